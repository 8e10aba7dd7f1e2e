package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

//go:embed templates/host.html
var hostTemplates embed.FS

var hostPage = template.Must(template.ParseFS(hostTemplates, "templates/host.html"))

// hostCSP allows the page's own inline style and nothing else: the host
// page has no script at all.
const hostCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// HostPath is where the host pages are served: HostPath+"<host>" and
// HostPath+"<host>/<job>".
const HostPath = "/host/"

// Detailer is what the host page reads: a record with its history
// (localstore and vaultkv's Detail) and a side document (its log).
type Detailer interface {
	Detail(ctx context.Context, key string) (map[string]any, error)
	Get(ctx context.Context, key string) (map[string]any, error)
}

// HostOptions configure the host pages.
type HostOptions struct {
	Source Detailer
	// Snapshot, when not nil, gives the record as the status page judges
	// it (the config file's schedule); else the record is read as stored.
	Snapshot func() *fleet.Snapshot
	Title    string
	Timeout  time.Duration // for the store's reads; 10 s when zero
	Now      func() time.Time
	Logger   *slog.Logger
}

// HostHandler serves a host's (or job's) page: its last results as
// charts and a table, and its last failed run's log.
type HostHandler struct{ opts HostOptions }

// NewHost returns the host pages' handler, for HostPath.
func NewHost(opts HostOptions) *HostHandler {
	if opts.Title == "" {
		opts.Title = "Backup status"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &HostHandler{opts: opts}
}

func (h *HostHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, _ := strings.CutPrefix(r.URL.Path, HostPath)
	host, job, _ := strings.Cut(rest, "/")
	if status.ValidateHost(host) != nil || (job != "" && status.ValidateJob(job) != nil) || strings.Contains(job, "/") {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	p, code := h.build(ctx, host, job)
	var buf bytes.Buffer
	if err := hostPage.Execute(&buf, p); err != nil {
		h.opts.Logger.Error("render host page", "host", host, "job", job, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", hostCSP)
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// build reads what the page shows; code is the HTTP status: 404 when the
// store has no such record, 503 when it could not be read.
func (h *HostHandler) build(ctx context.Context, host, job string) (HostView, int) {
	now := h.opts.Now()
	v := HostView{Title: h.opts.Title, Host: host, Job: job, Name: status.Name(host, job), Home: "../"}
	if job != "" {
		v.Home = "../../"
	}
	key := status.Key(host, job)
	doc, err := h.opts.Source.Detail(ctx, key)
	switch {
	case errors.Is(err, status.ErrNotFound):
		v.Err = "The store holds no record for " + v.Name + "."
		return v, http.StatusNotFound
	case err != nil:
		// The store's errors are redacted, but the page is seen by more
		// people than the log: it says what, the log says why.
		h.opts.Logger.Warn("host page: read the record", "host", host, "job", job, "err", err)
		v.Err = "The record of " + v.Name + " could not be read from the store; the exporter's log says why."
		return v, http.StatusServiceUnavailable
	}
	rec := h.record(host, job, doc)
	v.Tile = tile(&rec, now)
	entries, problems := status.History(doc)
	v.Problems = bounded(problems)
	v.Charts, v.Rows = historyView(entries, now)
	v.Flapping = flapping(entries, now)
	if h.opts.Snapshot != nil {
		if p, ok := coveringPause(h.opts.Snapshot(), host, job, now); ok {
			v.Paused = &p
		}
	}
	if ldoc, err := h.opts.Source.Get(ctx, status.SideKey(key, status.SideLog)); err == nil {
		l := status.ParseLog(ldoc)
		v.Log, v.LogAt = l.Text, when(l.At, now)
		if l.ExitCode != nil {
			v.LogExit = l.ExitCode
		}
	} else if !errors.Is(err, status.ErrNotFound) {
		h.opts.Logger.Warn("host page: read the failed run's log", "host", host, "job", job, "err", err)
		v.LogErr = true
	}
	return v, http.StatusOK
}

// record is the record as the status page judges it, when the snapshot
// has it; else as stored.
func (h *HostHandler) record(host, job string, doc map[string]any) status.Record {
	if h.opts.Snapshot != nil {
		if snap := h.opts.Snapshot(); snap != nil {
			list := snap.Hosts
			if job != "" {
				list = snap.Jobs
			}
			if i, ok := list.Search(status.JobID{Host: host, Job: job}); ok {
				return *list.At(i)
			}
		}
	}
	r := status.Parse(host, doc)
	r.Job = job
	return r
}
