package web

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestJobTiles: jobs are tiles right after their host's, each judged by
// its own schedule: a weekly job three days after its success is ok, an
// hourly one two hours after it is overdue, a run past its bound says so.
func TestJobTiles(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	hourly, _ := schedule.Interval(time.Hour, 0)
	weekly, _ := schedule.Interval(7*24*time.Hour, 6*time.Hour)
	rec := func(host, job string, ago time.Duration, s *schedule.Schedule) status.Record {
		r := status.Record{Host: host, Job: job, Status: status.Success, LastSuccess: now.Add(-ago)}
		if s != nil {
			r.Schedule, r.ScheduleFrom = *s, status.ScheduleFromRecord
		}
		return r
	}
	running := rec("web", "files", 30*time.Minute, &hourly)
	running.LastAttempt = now.Add(-2 * time.Hour)
	running.LastSuccess = now.Add(-3 * time.Hour)
	snap := &fleet.Snapshot{
		Listed: true,
		Hosts:  fleet.RecordsOf([]status.Record{rec("db", "", time.Hour, nil), rec("web", "", time.Hour, nil)}...),
		Jobs: fleet.RecordsOf([]status.Record{
			rec("db", "image", 72*time.Hour, &weekly),
			rec("db", "files", 2*time.Hour, &hourly),
			rec("db", "pg_dump", 72*time.Hour, nil), // no schedule: the runbook's 24 hours
			running,
		}...),
	}
	v := Build(snap, Options{Now: func() time.Time { return now }}, "")
	var got []string
	for _, sec := range v.Sections {
		for _, tl := range sec.All {
			got = append(got, fmt.Sprintf("%s %s@%s", sec.State, tl.Host, tl.Job))
		}
	}
	if want := "overdue db@pg_dump, overdue db@files, overdue web@files, ok db@, ok db@image, ok web@"; /* red before amber */ strings.Join(got, ", ") != want {
		t.Errorf("tiles\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
	if v.Hosts != 2 || v.Jobs != 4 {
		t.Errorf("hosts %d, jobs %d; want 2 and 4", v.Hosts, v.Jobs)
	}
	w := httptest.NewRecorder()
	New(Options{Now: func() time.Time { return now }, Snapshot: func() *fleet.Snapshot { return snap }}).ServeHTTP(w, httptest.NewRequest("GET", "/?q=web", nil))
	page := w.Body.String()
	for _, want := range []string{"2 hosts and 4 jobs:", `id="job-web@files"`, "running since 2 h ago, longer than it may", "every 1h", `id="host-web"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
