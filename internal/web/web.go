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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

//go:embed templates/status.html templates/filter.js
var templates embed.FS

var (
	page = template.Must(template.ParseFS(templates, "templates/status.html"))
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

// The thresholds, in the alerts' terms.
const (
	// OverdueAfter is BackupNotRunIn24Hours' threshold on the age of the
	// last success (age > 86400 s).
	OverdueAfter = 86400 * time.Second
	// RedAfter is the runbook panel's red threshold (48 h); an overdue
	// host younger than that is amber.
	RedAfter = 172800 * time.Second
	// RestoreOverdueAfter is RestoreTestOverdue's threshold (90 days).
	RestoreOverdueAfter = 7776000 * time.Second
)

// States, disjoint, in the order a person should read them. A host is in
// the first one that holds:
//   - failed: its last recorded result is a failure (BackupFailed), whatever
//     the age of its last success;
//   - overdue: no success in the last 24 h (BackupNotRunIn24Hours), for a
//     host with an established success or a record that says success;
//   - unknown: no usable status (BackupStatusUnknown): never reported, a
//     record that cannot be read or understood, or not read yet because the
//     store has not been reached;
//   - ok: a success within the last 24 h.
const (
	Failed  = "failed"
	Overdue = "overdue"
	Unknown = "unknown"
	OK      = "ok"
)

var states = []string{Failed, Overdue, Unknown, OK}

// Bounds on what a record may put on the page.
const (
	maxLine     = 300  // one line of free text on a tile
	maxHover    = 1000 // the same text in full, on hover
	maxProblems = 5    // diagnostics shown per host or for the store
	maxHostText = 253  // a host name shown (DNS's bound)
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
	LastRefresh    When
	Restore        RestoreView
	// Query is the filter (?q=): a case-insensitive part of a host name.
	Query    string
	Shown    int // hosts matching Query (all of them when it is empty)
	Hosts    int
	Jobs     int       // job records, shown as tiles beside their host's
	Sections []Section // one per state, in order, empty ones included
	Script   template.JS
}

// Section is the hosts in one state.
type Section struct {
	State string
	Title string
	Help  string // what puts a host here
	Count int    // hosts in this state
	All   []Tile // all of them, in order
	Tiles []Tile // those shown in full
	Shown int    // tiles matching the filter, full or small
	// Compact is the tiles shown small (all of ok, and the problems
	// beyond maxFull), More how many there are.
	Compact template.HTML
	More    int
}

// When is a time shown relative to the page, with the absolute time on
// hover. The zero When is "never".
type When struct {
	Rel string // "3 h ago"
	Abs string // "2026-11-25 09:00:00 UTC"
	ISO string // RFC 3339, for <time datetime>
}

// Tile is one host.
type Tile struct {
	Host     string
	Job      string // "" for the host's own record; a job's tile follows its host's
	Schedule string // the schedule it is judged by, when one is set
	ID       string // "host-" + Host: notifications link to /?q=<host>#host-<host>
	State    string
	Colour   string // red, amber, grey or green
	Status   string // the record's status: success, failed or unknown
	Headline string // the state in words
	// AgeSeconds is the exported backup_last_success_age_seconds.
	AgeSeconds  int64
	LastSuccess When
	LastFailure When
	ExitCode    string // of the last result, when it failed
	Message     string // of the last result, when it failed: one bounded line
	MessageFull string // the same, longer, lines kept, for the hover
	Problems    []string
	Hidden      bool // filtered out by Query
	Never       bool // nothing known of its backups: no times to show
}

// RestoreView is the last restore test.
type RestoreView struct {
	State         string // passed, failed, overdue, unknown or never
	Colour        string
	Headline      string
	Date          When
	AgeSeconds    int64
	HostTested    string
	TimeToRestore string
	Notes         string
	NotesFull     string
	Problems      []string
}

// Build turns a snapshot into the page's view: hosts in disjoint states,
// problems first, each state sorted by severity then name. It costs one
// pass over the hosts and a sort per state.
func Build(snap *fleet.Snapshot, opts Options, query string) View {
	now := time.Now()
	if opts.Now != nil {
		now = opts.Now()
	}
	query = oneLine(query, 200)
	v := View{
		Title:          opts.Title,
		Generated:      absolute(now),
		RefreshSeconds: int(opts.Reload.Seconds()),
		Store:          opts.Store,
		Query:          query,
		Script:         filterJS,
	}
	for _, s := range states {
		v.Sections = append(v.Sections, Section{State: s, Title: sectionTitle[s], Help: sectionHelp[s]})
	}
	if snap == nil {
		return v
	}
	v.Ready = true
	v.StoreUp = snap.Err == nil
	if snap.Err != nil {
		v.StoreErr = oneLine(snap.Err.Error(), maxLine)
	}
	v.StoreProblems = bounded(snap.Problems)
	v.LastRefresh = when(snap.LastSuccess, now)
	v.Restore = restoreView(snap.RestoreTest, now)

	needle := strings.ToLower(query)
	index := map[string]int{}
	for i, s := range states {
		index[s] = i
	}
	add := func(r *status.Record) {
		t := tile(r, now)
		t.Hidden = needle != "" && !strings.Contains(strings.ToLower(t.Host), needle)
		sec := &v.Sections[index[t.State]]
		sec.Tiles = append(sec.Tiles, t)
		sec.Count++
		if !t.Hidden {
			sec.Shown++
			v.Shown++
		}
	}
	for i := range snap.Hosts {
		add(&snap.Hosts[i])
		v.Hosts++
	}
	for i := range snap.Jobs {
		add(&snap.Jobs[i])
		v.Jobs++
	}
	for i := range v.Sections {
		tiles := v.Sections[i].Tiles
		sort.SliceStable(tiles, func(a, b int) bool {
			if ra, rb := colourRank[tiles[a].Colour], colourRank[tiles[b].Colour]; ra != rb {
				return ra < rb
			}
			if tiles[a].Host != tiles[b].Host {
				return tiles[a].Host < tiles[b].Host
			}
			return tiles[a].Job < tiles[b].Job // a host's jobs after its own record
		})
	}
	for i := range v.Sections {
		splitFull(&v.Sections[i])
	}
	return v
}

// maxFull is how many tiles of a problem state are shown in full (the
// first ones shown, by severity then name); the others are small, with
// their details on hover. A common cause failing 5,000 hosts then costs a
// page of 100 full tiles, not 5,000.
const maxFull = 100

// splitFull moves the tiles not shown in full to Compact, rendered in Go:
// they are most of a large fleet, and a template pass per tile costs
// several times more.
func splitFull(s *Section) {
	s.All = s.Tiles
	if s.State == OK {
		s.Compact = compact(s.Tiles)
		s.Tiles, s.More = s.Tiles[:0:0], len(s.Tiles)
		return
	}
	var full, small []Tile
	shown := 0
	for _, t := range s.Tiles {
		switch {
		case !t.Hidden && shown < maxFull:
			shown++
			full = append(full, t)
		case t.Hidden && len(full) < maxFull:
			full = append(full, t) // for the script to show again
		default:
			small = append(small, t)
		}
	}
	s.Tiles, s.More, s.Compact = full, len(small), compact(small)
}

// compact renders small tiles: host and one time (the last failure for a
// failed host, the last success otherwise), details on hover.
// Every value is escaped (quotes included, so attributes are safe) and was
// made one clean line by tile.
func compact(tiles []Tile) template.HTML {
	var b strings.Builder
	b.Grow(len(tiles) * 200)
	e := template.HTMLEscapeString
	for i := range tiles {
		t := &tiles[i]
		host := e(t.Host)
		b.WriteString(`<li class="tile `)
		b.WriteString(e(t.Colour))
		b.WriteString(`" id="`)
		b.WriteString(e(t.ID))
		b.WriteString(`" data-host="`)
		b.WriteString(host)
		b.WriteString(`" data-state="`)
		b.WriteString(e(t.State))
		b.WriteString(`"`)
		b.WriteString(` title="`)
		b.WriteString(host)
		if t.Job != "" {
			b.WriteString(" job " + e(t.Job))
		}
		if t.State != OK {
			b.WriteString(": ")
			b.WriteString(e(t.Headline))
			if t.State == Failed {
				b.WriteString(e("; " + t.Why()))
			}
		}
		for _, p := range t.Problems {
			b.WriteString("&#10;record problem: ")
			b.WriteString(e(p))
		}
		b.WriteString(`"`)
		if t.Hidden {
			b.WriteString(` hidden`)
		}
		b.WriteString(`><span class="host">`)
		b.WriteString(host)
		if t.Job != "" {
			b.WriteString(` <span class="job">job `)
			b.WriteString(e(t.Job))
			b.WriteString(`</span>`)
		}
		b.WriteString(`</span> `)
		switch {
		case t.State == Failed:
			b.WriteString(string(t.LastFailure.HTML()))
		case t.Never:
			b.WriteString("never reported")
		case t.State == Unknown:
			b.WriteString("unknown")
		default:
			b.WriteString(string(t.LastSuccess.HTML()))
		}
		b.WriteString("</li>\n")
	}
	return template.HTML(b.String())
}

// Why is a failure's exit code and message, as the tile shows them.
func (t Tile) Why() string {
	s := "no exit code recorded"
	if t.ExitCode != "" {
		s = "exit code " + t.ExitCode
	}
	if t.Message == "" {
		return s + ", no message recorded"
	}
	return s + ": " + t.Message
}

var sectionTitle = map[string]string{
	Failed:  "Failed",
	Overdue: "Overdue",
	Unknown: "Unknown",
	OK:      "OK",
}

var sectionHelp = map[string]string{
	Failed:  "the last backup recorded failed (BackupFailed), whatever the age of the last success",
	Overdue: "no successful backup in the last 24 h (BackupNotRunIn24Hours); red beyond 48 h",
	Unknown: "no usable status: never reported, a record that cannot be read, or the store not reached yet (BackupStatusUnknown)",
	OK:      "a successful backup within the last 24 h",
}

// colourRank orders tiles within a state: the worst first.
var colourRank = map[string]int{"red": 0, "amber": 1, "grey": 2, "green": 3}

// StateOf is the state of a host's record at now (see the states above).
func StateOf(r *status.Record, now time.Time) string {
	age := time.Duration(collector.Age(r.LastSuccess, now)) * time.Second
	late := age > OverdueAfter
	if r.ScheduleFrom != "" { // its own schedule (BackupOverdue), not the 24 hours
		d := r.Deadline(now)
		late = d.IsZero() || now.After(d)
	}
	switch {
	case r.Status == status.Failed:
		return Failed
	case r.Unread:
		return Unknown
	case late && (established(r.LastSuccess, now) || r.Status == status.Success):
		return Overdue
	case r.Status != status.Success:
		return Unknown
	default:
		return OK
	}
}

// established reports whether t counts as a real time, as in the exported
// ages: set, and not too far in the future to be believed.
func established(t, now time.Time) bool {
	return !t.IsZero() && !t.After(now.Add(collector.MaxFutureSkew))
}

func tile(r *status.Record, now time.Time) Tile {
	host := oneLine(r.Host, maxHostText)
	id := "host-" + host
	if r.Job != "" {
		id = "job-" + host + "@" + r.Job
	}
	t := Tile{
		Host:        host,
		Job:         r.Job,
		ID:          id,
		State:       StateOf(r, now),
		Status:      r.Status,
		AgeSeconds:  collector.Age(r.LastSuccess, now),
		LastSuccess: when(r.LastSuccess, now),
		LastFailure: when(r.LastFailure, now),
		Problems:    bounded(r.Problems),
	}
	age := time.Duration(t.AgeSeconds) * time.Second
	switch t.State {
	case Failed:
		t.Colour = "red"
		t.Headline = "last backup failed"
		if n := r.ConsecutiveFailures; n != nil && *n > 1 {
			t.Headline += ", " + strconv.FormatInt(*n, 10) + " times in a row"
		}
		if !established(r.LastSuccess, now) {
			t.Headline += "; has never recorded a successful backup"
		}
		if r.ExitCode != nil {
			t.ExitCode = strconv.FormatInt(*r.ExitCode, 10)
		}
		t.Message = oneLine(r.Message, maxLine)
		t.MessageFull = lines(r.Message, maxHover)
	case Overdue:
		t.Colour = "amber"
		if age >= RedAfter {
			t.Colour = "red"
		}
		switch {
		case established(r.LastSuccess, now):
			t.Headline = "no successful backup for " + span(age)
		case !r.LastSuccess.IsZero():
			t.Headline = "its last success is dated " + span(r.LastSuccess.Sub(now)) + " in the future (a wrong clock or record): counted as never"
		default:
			t.Headline = "says success but has no time of a successful backup: counted as never"
		}
	case Unknown:
		t.Colour = "grey"
		switch {
		case r.Unread:
			t.Headline = "not read yet: the store has not been reached since backupwatch started"
			t.Never = true
		case r.RawStatus != "":
			t.Headline = "status " + strconv.Quote(oneLine(r.RawStatus, 64)) + " not understood"
		case r.LastSuccess.IsZero() && r.LastFailure.IsZero() && r.LastAttempt.IsZero():
			t.Headline = "never reported a backup"
			t.Never = true
			// "no record" says no more than the headline.
			t.Problems = bounded(slices.DeleteFunc(slices.Clone(r.Problems), func(p string) bool { return p == "no record" }))
		default:
			t.Headline = "no backup status recorded"
		}
	default:
		t.Colour = "green"
		t.Headline = "last success " + t.LastSuccess.Rel
	}
	if r.ScheduleFrom != "" {
		t.Schedule = r.Schedule.String()
		if d := r.Deadline(now); !d.IsZero() && t.State == OK {
			t.Headline += "; next due " + when(d, now).Abs
		}
	}
	if r.Running() {
		t.Headline += "; running since " + when(r.LastAttempt, now).Rel
		if now.After(r.RunDeadline()) {
			t.Headline += ", longer than it may"
		}
	}
	return t
}

func restoreView(rt *status.RestoreTest, now time.Time) RestoreView {
	if rt == nil {
		return RestoreView{State: "never", Colour: "grey", Headline: "No restore test has been recorded yet."}
	}
	rv := RestoreView{
		Date:       when(rt.LastTest, now),
		AgeSeconds: collector.Age(rt.LastTest, now),
		HostTested: oneLine(rt.HostTested, maxHostText),
		Notes:      oneLine(rt.Notes, maxLine),
		NotesFull:  lines(rt.Notes, maxHover),
		Problems:   bounded(rt.Problems),
	}
	if m := rt.TimeToRestoreMinutes; m != nil && *m >= 0 && *m < 1e7 {
		rv.TimeToRestore = span(time.Duration(*m * float64(time.Minute)))
	}
	overdue := time.Duration(rv.AgeSeconds)*time.Second > RestoreOverdueAfter
	switch {
	case rt.Result == status.Failed:
		rv.State, rv.Colour, rv.Headline = "failed", "red", "The last restore test failed."
	case rt.Result != status.Passed:
		rv.State, rv.Colour, rv.Headline = "unknown", "red", "The last restore test's result is not recorded or not understood: it does not show that a restore works."
	case overdue:
		rv.State, rv.Colour, rv.Headline = "overdue", "amber", "The last restore test passed, but it is over 90 days old: the quarterly test is overdue."
	default:
		rv.State, rv.Colour, rv.Headline = "passed", "green", "The last restore test passed."
	}
	return rv
}

func when(t, now time.Time) When {
	if t.IsZero() {
		return When{}
	}
	w := When{Abs: absolute(t), ISO: t.UTC().Format(time.RFC3339)}
	switch d := now.Sub(t); {
	case t.After(now.Add(collector.MaxFutureSkew)):
		w.Rel = span(-d) + " in the future (a wrong clock or record)"
	case d < 0:
		w.Rel = span(-d) + " in the future"
	default:
		w.Rel = span(d) + " ago"
	}
	return w
}

// HTML is the time as a <time> element, or "never". Built here rather than
// in the template: it is on every tile, and its parts are all ours (digits,
// letters, spaces), escaped all the same.
func (w When) HTML() template.HTML {
	if w.Rel == "" {
		return "never"
	}
	e := template.HTMLEscapeString
	return template.HTML(`<time datetime="` + e(w.ISO) + `" title="` + e(w.Abs) + `">` + e(w.Rel) + `</time>`)
}

func absolute(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02 15:04:05 MST")
}

// span renders a duration as a person reads an age, as precisely as the
// thresholds need: "40 s", "12 min", "3 h 20 min", "30 h", "5 d 2 h", "40 d".
func span(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Truncate(time.Second)
	h := int64(d / time.Hour)
	m := int64(d%time.Hour) / int64(time.Minute)
	days, dh := h/24, h%24
	switch {
	case d < time.Minute:
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	case d < time.Hour:
		return strconv.FormatInt(m, 10) + " min"
	case h < 48 && m > 0:
		return strconv.FormatInt(h, 10) + " h " + strconv.FormatInt(m, 10) + " min"
	case h < 72:
		return strconv.FormatInt(h, 10) + " h"
	case days < 14 && dh > 0:
		return strconv.FormatInt(days, 10) + " d " + strconv.FormatInt(dh, 10) + " h"
	case days < 3*365:
		return strconv.FormatInt(days, 10) + " d"
	default:
		return strconv.FormatInt(days/365, 10) + " years"
	}
}

// bounded is at most maxProblems diagnostics, each one bounded line, and a
// last one saying how many more there were.
func bounded(ps []string) []string {
	var out []string
	for i, p := range ps {
		if i == maxProblems {
			out = append(out, "and "+strconv.Itoa(len(ps)-maxProblems)+" more")
			break
		}
		out = append(out, oneLine(p, maxLine))
	}
	return out
}
