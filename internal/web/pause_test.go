package web

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestPausesShown: the page lists the pauses in force, until when and why,
// and each covered tile (a host's pause covers its jobs; a job's pause
// its job only) says so, small tiles in their hover; a reason written to
// the store with markup and line breaks is escaped and one line; a pause
// that has ended is not shown.
func TestPausesShown(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ok := func(host, job string) status.Record {
		return status.Record{Host: host, Job: job, Status: status.Success, LastSuccess: now.Add(-time.Hour)}
	}
	failed := status.Record{Host: "db", Status: status.Failed, LastSuccess: now.Add(-time.Hour), LastFailure: now.Add(-time.Minute)}
	snap := &fleet.Snapshot{
		Listed: true,
		Hosts:  fleet.RecordsOf([]status.Record{failed, ok("web", ""), ok("mail", "")}...),
		Jobs:   fleet.RecordsOf([]status.Record{ok("db", "files"), ok("web", "files"), ok("web", "dump")}...),
		Pauses: []status.Pause{
			{Host: "db", Until: now.Add(2 * time.Hour), Reason: "disk <script>alert(1)</script>\nswap & more"},
			{Host: "mail", Until: now.Add(-time.Hour), Reason: "ended long ago"},
			{Host: "web", Job: "files", Until: now.Add(30 * time.Minute), Reason: "NAS rebuild"},
		},
	}
	v := Build(snap, Options{Now: func() time.Time { return now }}, "")
	if len(v.Pauses) != 2 || v.Pauses[0].Host != "db" || v.Pauses[1].Job != "files" || v.Pauses[0].Until.Rel != "in 2 h" {
		t.Errorf("pauses in force: %+v", v.Pauses)
	}
	paused := map[string]string{}
	for _, sec := range v.Sections {
		for _, tl := range sec.All {
			paused[tl.Host+"@"+tl.Job] = tl.Paused
		}
	}
	for id, want := range map[string]string{"db@": "paused until 2026-11-25 14:00:00 UTC", "db@files": "paused until 2026-11-25 14:00:00 UTC", "web@files": "NAS rebuild", "web@": "", "web@dump": "", "mail@": ""} {
		if got := paused[id]; (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("tile %s: paused %q, want %q", id, got, want)
		}
	}
	w := httptest.NewRecorder()
	New(Options{Now: func() time.Time { return now }, Snapshot: func() *fleet.Snapshot { return snap }}).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	page := w.Body.String()
	for _, want := range []string{`data-pause="db"`, `data-pause="web@files"`, "until 2026-11-25 14:00:00 UTC (in 2 h)", "disk &lt;script&gt;alert(1)&lt;/script&gt; swap &amp; more", `data-paused>paused until`, "&#10;paused until 2026-11-25 12:30:00 UTC: NAS rebuild"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, never := range []string{"<script>alert", "ended long ago", `data-pause="mail"`} {
		if strings.Contains(page, never) {
			t.Errorf("page has %q", never)
		}
	}
}
