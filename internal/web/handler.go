// Package web renders backupwatch's status page: one tile per host, in the
// order and with the words the alerts use, server-rendered with
// html/template so that every value from the store is escaped.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/heartbeat"
	"github.com/golemtrust/backupwatch/internal/repocheck"
)

//go:embed templates/status.html templates/alerting.html templates/filter.js
var templates embed.FS

var (
	page = template.Must(template.ParseFS(templates, "templates/status.html", "templates/alerting.html"))
	// filterJS is the page's only script, allowed by its hash alone.
	filterJS = template.JS(mustRead("templates/filter.js"))
	csp      = "default-src 'none'; style-src 'unsafe-inline'; script-src '" + hash(string(filterJS)) +
		"'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

func mustRead(name string) string {
	b, err := templates.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Options configure the page.
type Options struct {
	// Snapshot returns the latest snapshot, nil before the first refresh.
	Snapshot func() *fleet.Snapshot
	// Repositories returns the repositories' last checks (repo-check's
	// records, through the witness); nil: none shown.
	Repositories func() []repocheck.Record
	// Store names the store, never with a credential.
	Store string
	// StoreDir is the local store's directory ("" for Vault): the empty
	// page's hint names it, so that following the hint writes where the
	// page reads.
	StoreDir string
	// Reload is how often the browser reloads the page.
	Reload time.Duration
	Title  string
	Now    func() time.Time
	Logger *slog.Logger

	// AlertingPath returns the dead man's switches' latest states (read
	// in the background: it never waits); nil: no "Alerting path".
	AlertingPath func() []heartbeat.State
}

// Handler serves the status page at "/".
type Handler struct{ opts Options }

// New returns the status page handler.
func New(opts Options) *Handler {
	if opts.Reload < 10*time.Second {
		opts.Reload = 60 * time.Second
	}
	if opts.Title == "" {
		opts.Title = "Backup status"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StoreDir != "" { // the hint must work from any directory
		if abs, err := filepath.Abs(opts.StoreDir); err == nil {
			opts.StoreDir = abs
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{opts: opts}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	v := Build(h.opts.Snapshot(), h.opts, r.URL.Query().Get("q"))
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		h.opts.Logger.Error("render status page", "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	// The filter script runs by its hash; nothing else can, even if a
	// value escaped.
	hd.Set("Content-Security-Policy", csp)
	w.Write(buf.Bytes())
}
