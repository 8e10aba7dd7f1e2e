package e2e

import (
	"regexp"
	"testing"
	"time"
)

// TestInboxJobs: a fleet whose hosts run hourly, daily (cron, in a zone
// with summer time), weekly and monthly jobs beside their runbook records
// sends nothing while every job keeps its own schedule (a weekly job three
// days after its success does not trip the 24 hours), and exactly one
// notification per channel when one job misses its own deadline.
func TestInboxJobs(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{hosts: base})
	r := &runner{t: t, s: s, scenario: "12 jobs keep their schedules", hostRE: regexp.MustCompile(`\b(db|auth|web)\b`)}
	now := time.Now().UTC()
	at := func(d time.Duration) string { return "--at=" + now.Add(-d).Format(time.RFC3339) }
	// The daily job's last run: today's (or yesterday's) 03:00 in Berlin, done 5 minutes later.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	b := now.In(berlin)
	daily := time.Date(b.Year(), b.Month(), b.Day(), 3, 5, 0, 0, berlin)
	if daily.After(now) {
		daily = daily.AddDate(0, 0, -1)
	}
	r.phase(phase{name: "hourly, daily, weekly and monthly jobs on shared hosts, each within its schedule",
		do: func() {
			s.bwAll([][]string{
				{"record", "--status=success", "--host=db", "--job=files", "--every=1h", "--grace=10m", at(40 * time.Minute)},
				{"record", "--status=success", "--host=db", "--job=pg_dump", "--cron=0 3 * * *", "--cron.tz=Europe/Berlin", "--at=" + daily.Format(time.RFC3339)},
				{"record", "--status=success", "--host=db", "--job=image", "--every=7d", "--grace=6h", at(72 * time.Hour)},
				{"record", "--status=success", "--host=web", "--job=files", "--every=1h", at(20 * time.Minute)},
				{"record", "--status=success", "--host=web", "--job=archive", "--every=30d", "--grace=1d", at(20 * 24 * time.Hour)},
				// Due two minutes from now: the next phase's.
				{"record", "--status=success", "--host=auth", "--job=ldap", "--every=1h", at(58 * time.Minute)},
			})
		}})
	w := firing("BackupOverdue", 1).titled("BackupOverdue").saying("auth (job ldap)", "every 1h")
	r.phase(phase{name: "auth's hourly job misses its deadline", slack: []want{w}, email: []want{w}})
}
