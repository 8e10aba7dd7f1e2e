package report

import (
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

// TestHTMLEscapesAndBars: the HTML report escapes every name and reason
// and draws each record's share of successful runs.
func TestHTMLEscapesAndBars(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	one := int64(1)
	hist := []status.Entry{
		{At: now.Add(-48 * time.Hour), Outcome: status.Success},
		{At: now.Add(-24 * time.Hour), Outcome: status.Failed, ExitCode: &one, Reason: `<img src=x onerror=alert(1)>`},
		{At: now.Add(-30 * 24 * time.Hour), Outcome: status.Failed}, // before the period
	}
	rep := Build(`vault <b>x</b>`, []Record{{Row: statusview.Row{Host: "db", Status: status.Failed}, History: hist}},
		[]statusview.RestoreTest{{Result: "passed", LastTest: "2026-12-01T00:00:00Z"}}, now.Add(-7*24*time.Hour), now)
	if rep.Runs != 2 || rep.Succeeded != 1 {
		t.Fatalf("runs %d, succeeded %d; want 2, 1", rep.Runs, rep.Succeeded)
	}
	var b strings.Builder
	if err := rep.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<img", "<b>x"} {
		if strings.Contains(page, bad) {
			t.Errorf("the report holds %q unescaped", bad)
		}
	}
	for _, want := range []string{"width:50%", "1 of 2", "&lt;img src=x onerror=alert(1)&gt;", "<strong>50.0%</strong> of 2 runs", "Restore test: passed"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q:\n%s", want, page)
		}
	}
}
