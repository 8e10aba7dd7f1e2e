// Package web renders backupwatch's status page: one tile per host,
// coloured by the runbook's panel thresholds, server-rendered with
// html/template so that every value from the store is escaped.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

//go:embed templates/status.html
var templates embed.FS

var page = template.Must(template.ParseFS(templates, "templates/status.html"))

// The runbook's panel thresholds on the age of the last success.
const (
	AmberAfter = 90000 * time.Second  // 25 h
	RedAfter   = 172800 * time.Second // 48 h
)

// Options configure the page.
type Options struct {
	// Snapshot returns the latest snapshot, nil before the first refresh.
	Snapshot func() *fleet.Snapshot
	// Store names the store, never with a credential.
	Store string
	// Reload is how often the browser reloads the page.
	Reload time.Duration
	Title  string
	Now    func() time.Time
	Logger *slog.Logger
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
	var buf bytes.Buffer
	if err := page.Execute(&buf, Build(h.opts.Snapshot(), h.opts)); err != nil {
		h.opts.Logger.Error("render status page", "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	// No script of any kind runs on this page, even if a value escaped.
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Write(buf.Bytes())
}

// View is what the template renders.
type View struct {
	Title          string
	Generated      string
	RefreshSeconds int
	Ready          bool
	Store          string
	StoreUp        bool
	StoreErr       string
	StoreProblems  []string
	LastRefresh    string
	LastRefreshAge string
	Restore        *RestoreView
	Tiles          []Tile

	Failed, Unknown, Red, Amber, Green int
}

// Tile is one host.
type Tile struct {
	Host        string
	Status      string
	Colour      string // green, amber or red
	AgeSeconds  int64  // since the last success; since the epoch when none
	Age         string
	LastSuccess string
	LastFailure string
	Message     string
	Problems    []string
}

// RestoreView is the last restore test.
type RestoreView struct {
	Result        string
	Date          string
	AgeSeconds    int64
	Age           string
	HostTested    string
	TimeToRestore string
	Notes         string
	Problems      []string
}

// Build turns a snapshot into the page's view, tiles in the order a person
// should read them: failed, unknown, then the oldest success first.
func Build(snap *fleet.Snapshot, opts Options) View {
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	v := View{
		Title:          opts.Title,
		Generated:      status.FormatTime(now),
		RefreshSeconds: int(opts.Reload.Seconds()),
		Store:          opts.Store,
	}
	if snap == nil {
		return v
	}
	v.Ready = true
	v.StoreUp = snap.Err == nil
	if snap.Err != nil {
		v.StoreErr = snap.Err.Error()
	}
	v.StoreProblems = snap.Problems
	if !snap.LastSuccess.IsZero() {
		v.LastRefresh = status.FormatTime(snap.LastSuccess)
		v.LastRefreshAge = human(now.Sub(snap.LastSuccess))
	}
	for _, r := range snap.Hosts {
		// The age the exporter exports, so tile and alert agree.
		t := Tile{Host: r.Host, Status: r.Status, Message: r.Message, Problems: r.Problems, AgeSeconds: collector.Age(r.LastSuccess, now)}
		if !r.LastSuccess.IsZero() {
			t.LastSuccess = status.FormatTime(r.LastSuccess)
			t.Age = ageText(r.LastSuccess, now)
		}
		if !r.LastFailure.IsZero() {
			t.LastFailure = status.FormatTime(r.LastFailure)
		}
		t.Colour = Colour(time.Duration(t.AgeSeconds) * time.Second)
		switch t.Status {
		case status.Failed:
			v.Failed++
		case status.Unknown:
			v.Unknown++
		}
		switch t.Colour {
		case "red":
			v.Red++
		case "amber":
			v.Amber++
		default:
			v.Green++
		}
		v.Tiles = append(v.Tiles, t)
	}
	sort.SliceStable(v.Tiles, func(i, j int) bool {
		a, b := v.Tiles[i], v.Tiles[j]
		if ra, rb := statusRank(a.Status), statusRank(b.Status); ra != rb {
			return ra < rb
		}
		if a.AgeSeconds != b.AgeSeconds {
			return a.AgeSeconds > b.AgeSeconds
		}
		return a.Host < b.Host
	})
	if rt := snap.RestoreTest; rt != nil {
		rv := &RestoreView{Result: rt.Result, HostTested: rt.HostTested, Notes: rt.Notes, Problems: rt.Problems, AgeSeconds: collector.Age(rt.LastTest, now)}
		if !rt.LastTest.IsZero() {
			rv.Date = status.FormatTime(rt.LastTest)
			rv.Age = ageText(rt.LastTest, now)
		}
		if m := rt.TimeToRestoreMinutes; m != nil {
			rv.TimeToRestore = human(time.Duration(*m * float64(time.Minute)))
		}
		v.Restore = rv
	}
	return v
}

// ageText says how long ago t was, or that it is too far in the future to
// be believed (it then counts as never, as in the exported age).
func ageText(t, now time.Time) string {
	switch {
	case t.After(now.Add(collector.MaxFutureSkew)):
		return "in the future (" + human(t.Sub(now)) + " ahead: a wrong clock or record), counted as never"
	case t.After(now):
		return human(t.Sub(now)) + " in the future"
	default:
		return human(now.Sub(t)) + " ago"
	}
}

// Colour is the runbook's panel colour for the age of a last success.
func Colour(age time.Duration) string {
	switch {
	case age >= RedAfter:
		return "red"
	case age >= AmberAfter:
		return "amber"
	default:
		return "green"
	}
}

func statusRank(s string) int {
	switch s {
	case status.Failed:
		return 0
	case status.Unknown:
		return 1
	default:
		return 2
	}
}

// human renders a duration as a person reads an age: "3d 4h", "2h 5m", "40s".
func human(d time.Duration) string {
	if d < 0 {
		return "in the future: " + human(-d)
	}
	d = d.Truncate(time.Second)
	days := d / (24 * time.Hour)
	hours := (d % (24 * time.Hour)) / time.Hour
	mins := (d % time.Hour) / time.Minute
	switch {
	case days >= 365*100:
		return fmt.Sprintf("%dy", days/365)
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh %dm", hours, mins)
	case mins > 0:
		return fmt.Sprintf("%dm", mins)
	default:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
}
