package web

import (
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

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
	Pauses         []PauseView // in force: alerts held back
	LastRefresh    When
	Restore        RestoreView
	Alerting       []AlertingView // the dead man's switches, when given
	// Repos are the repositories' last checks: size, free space, growth,
	// locks and retention; empty when none is checked.
	Repos []RepoView
	// Query is the filter (?q=): a case-insensitive part of a host name.
	Query    string
	Shown    int // hosts matching Query (all of them when it is empty)
	Hosts    int
	Jobs     int       // job records, shown as tiles beside their host's
	Sections []Section // one per state, in order, empty ones included
	Script   template.JS
	// Legend is the closing line; Hint the empty page's (the command
	// that writes where the page reads).
	Legend, Hint string
}

// Counts is "N hosts and M jobs", each in the singular when one.
func (v View) Counts() string {
	s := plural(v.Hosts, "host")
	if v.Jobs > 0 {
		s += " and " + plural(v.Jobs, "job")
	}
	return s
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
	// Short is what a small tile shows instead of a time, when a time
	// would not say it: "never reported", "record unreadable", "running".
	Short string
	// Paused says the pause in force over it (its own or its host's):
	// "paused until <time>: <reason>"; "" when none.
	Paused string
	Hidden bool // filtered out by Query
	Never  bool // nothing known of its backups: no times to show
	// Points are the host's (or job's) restore points in the checked
	// repositories; nil when no repository holds any.
	Points *RestorePoints
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
		Legend:         legend,
		Hint:           "backupwatch record --status success --host NAME",
	}
	if opts.StoreDir != "" {
		v.Hint = "backupwatch --store.dir=" + shellQuote(opts.StoreDir) + " record --status success --host NAME"
	}
	for _, s := range states {
		v.Sections = append(v.Sections, Section{State: s, Title: sectionTitle[s], Help: sectionHelp[s]})
	}
	v.Alerting = alertingViews(opts, now)
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
	v.Pauses = pauses(snap, now)
	var points map[string]RestorePoints
	if opts.Repositories != nil {
		v.Repos, points = repoViews(opts.Repositories(), now)
	}

	needle := strings.ToLower(query)
	index := map[string]int{}
	for i, s := range states {
		index[s] = i
	}
	add := func(r *status.Record) {
		t := tile(r, now)
		t.Paused = pausedText(snap, r.Host, r.Job, now)
		key := r.Host
		if r.Job != "" {
			key += "@" + r.Job
		}
		if p, ok := points[key]; ok {
			t.Points = &p
		}
		t.Hidden = needle != "" && !strings.Contains(strings.ToLower(t.Host), needle)
		sec := &v.Sections[index[t.State]]
		sec.Tiles = append(sec.Tiles, t)
		sec.Count++
		if !t.Hidden {
			sec.Shown++
			v.Shown++
		}
	}
	for _, r := range snap.Hosts.All() {
		add(r)
		v.Hosts++
	}
	for _, r := range snap.Jobs.All() {
		add(r)
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
