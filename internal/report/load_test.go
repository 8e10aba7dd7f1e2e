package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestLoad: the report counts the runs the records' histories keep in
// the period (delivered as record and run deliver them, to a real local
// store), by team from the hosts' labels (team, else owner), and reports
// an expected host without a record.
func TestLoad(t *testing.T) {
	ctx := context.Background()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := deliver.New(deliver.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	for i, r := range []status.Result{
		{Host: "db", Outcome: status.Success, At: now.Add(-72 * time.Hour)},
		{Host: "db", Outcome: status.Failed, At: now.Add(-48 * time.Hour), Message: "disk full"},
		{Host: "db", Outcome: status.Success, At: now.Add(-24 * time.Hour)},
		{Host: "web", Outcome: status.Success, At: now.Add(-24 * time.Hour)},
		{Host: "web", Outcome: status.Success, At: now.Add(-30 * 24 * time.Hour)}, // before the period
	} {
		if _, err := d.Deliver(ctx, spool.Entry{Result: &r}, spool.Retry{Attempts: 1}); err != nil {
			t.Fatalf("deliver %d: %v", i, err)
		}
	}
	labels := func(host string) map[string]string {
		return map[string]map[string]string{"db": {"team": "data"}, "web": {"owner": "frontend"}}[host]
	}
	rep, err := Load(ctx, st, fleet.Options{Expected: []string{"new"}}, labels, now.Add(-7*24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Runs != 4 || rep.Succeeded != 3 {
		t.Errorf("runs %d, succeeded %d; want 4, 3", rep.Runs, rep.Succeeded)
	}
	var teams []string
	for _, tm := range rep.Teams {
		teams = append(teams, tm.Name)
	}
	if got := strings.Join(teams, ","); !strings.Contains(got, "data") || !strings.Contains(got, "frontend") {
		t.Errorf("teams %q; want data and frontend", got)
	}
	m, err := rep.Message()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"db", "new", "disk full"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the report's text lacks %q:\n%s", want, m.Text)
		}
	}
	if m.Kind != "report" || m.Title != rep.Title() || !strings.Contains(m.HTML, "<") {
		t.Errorf("message %q %q: want the report's kind, title and HTML", m.Kind, m.Title)
	}
}
