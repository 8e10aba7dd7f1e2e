package collector

import (
	"context"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestDayOneDeadline is issue 16's item 6 on the exporter's side: a host
// or job whose history starts with a failed or running run gets one day
// from its first result or start (backup_deadline_timestamp_seconds, which
// BackupNotRunIn24Hours and BackupOverdue wait for), so its first failure
// pages once (BackupFailed). A record without first_recorded (the
// runbook's `vault kv put`) gets no such day: its history is unknown.
func TestDayOneDeadline(t *testing.T) {
	doc := func(rs ...status.Result) map[string]any {
		var d map[string]any
		for _, r := range rs {
			d, _ = status.Apply(d, r)
		}
		return d
	}
	hourAgo := testNow.Add(-time.Hour)
	src := mapSource{
		"first-failed":        doc(status.Result{Outcome: status.Failed, At: hourAgo}),
		"first-running":       doc(status.Result{At: hourAgo}),
		"started-then-failed": doc(status.Result{At: hourAgo}, status.Result{Outcome: status.Failed, At: hourAgo.Add(10 * time.Minute)}),
		"failing-for-days":    doc(status.Result{Outcome: status.Failed, At: testNow.Add(-72 * time.Hour)}, status.Result{Outcome: status.Failed, At: hourAgo}),
		"runbook-failed":      {"status": "failed", "last_failure": status.FormatTime(hourAgo)},
		"succeeded":           doc(status.Result{Outcome: status.Failed, At: testNow.Add(-3 * time.Hour)}, status.Result{Outcome: status.Success, At: testNow.Add(-2 * time.Hour)}),
	}
	c := New(Options{Source: src, Now: func() time.Time { return testNow }})
	c.Refresh(context.Background())
	for host, want := range map[string]time.Time{
		"first-failed":        hourAgo.Add(24 * time.Hour),
		"first-running":       hourAgo.Add(24 * time.Hour),
		"started-then-failed": hourAgo.Add(24 * time.Hour),
		"failing-for-days":    testNow.Add(-48 * time.Hour),
		"runbook-failed":      {},
		"succeeded":           testNow.Add(22 * time.Hour),
	} {
		var wantV float64
		if !want.IsZero() {
			wantV = float64(want.Unix())
		}
		if got := value(t, c, "backup_deadline_timestamp_seconds", "host", host); got != wantV {
			t.Errorf("%s: backup_deadline_timestamp_seconds = %v, want %v (%s)", host, got, wantV, want)
		}
	}
}
