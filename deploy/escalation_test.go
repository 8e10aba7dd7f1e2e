package deploy

import (
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// TestEscalationInhibits: through the real Alertmanager of both
// generations, with the shipped inhibit rules, a failure that pages
// (BackupFailed, severity critical) holds back its own warning (the same
// host and job), and no other host's or job's; when the page resolves,
// nothing holds the warning back any more.
func TestEscalationInhibits(t *testing.T) {
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) { testEscalationInhibits(t, am.Path) })
	}
}

func testEscalationInhibits(t *testing.T, am string) {
	a := startLiveAM(t, am)
	failed := func(severity, host, job string) amAlert {
		l := map[string]string{"alertname": "BackupFailed", "severity": severity, "host": host, "instance": "metrics:10036", "job": "backupwatch"}
		if job != "" {
			l["backup_job"] = job
		}
		return amAlert{Labels: l}
	}
	page := failed("critical", "db", "")
	a.post(page, failed("warning", "db", ""), failed("warning", "db", "dump"), failed("warning", "web", ""))
	a.states(map[string]string{
		"BackupFailed[critical]/db@":    "active",
		"BackupFailed[warning]/db@":     "suppressed",
		"BackupFailed[warning]/db@dump": "active",
		"BackupFailed[warning]/web@":    "active",
	})
	page.EndsAt = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	a.post(page)
	a.states(map[string]string{"BackupFailed[warning]/db@": "active"})
}
