package collector

import (
	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/fleet"
)

// Escalation: the config file's page_after per host and job, for the
// rules to compare backup_consecutive_failures and the age of the last
// success against (BackupFailed is a warning until then, a page after).

var (
	pageAfterFailures = desc("backup_page_after_failures",
		"Consecutive failures (backup_consecutive_failures) at which a failing backup pages (BackupFailed, severity critical) instead of warning: the config file's page_after.failures. Absent when not set; with neither this nor backup_page_after_seconds, a failure pages at once.", "host")
	pageAfterSeconds = desc("backup_page_after_seconds",
		"How long without a success (backup_last_success_age_seconds) a failing backup may go before it pages (BackupFailed, severity critical): the config file's page_after.or. Absent when not set.", "host")
)

func init() { allDescs = append(allDescs, pageAfterFailures, pageAfterSeconds) }

// Escalations gives the escalation of a host's job (job "" for the host's
// own record); false for none, when a failure pages at once.
type Escalations interface {
	Escalation(host, job string) (config.Escalation, bool)
}

// collectEscalation sends the thresholds of every record read that has
// one; nothing without a config file or page_after in it.
func collectEscalation(g gauge, snap *fleet.Snapshot, esc Escalations) {
	if esc == nil {
		return
	}
	send := func(g gauge, host, job string) {
		e, ok := esc.Escalation(host, job)
		if !ok {
			return
		}
		if e.Failures > 0 {
			g(pageAfterFailures, float64(e.Failures), hostLabel(host))
		}
		if e.After > 0 {
			g(pageAfterSeconds, e.After.Seconds(), hostLabel(host))
		}
	}
	for _, r := range snap.Hosts.All() {
		if !r.Unread {
			send(g, r.Host, "")
		}
	}
	for _, r := range snap.Jobs.All() {
		if !r.Unread {
			send(jobGauge(g, labelValue(r.Job)), r.Host, r.Job)
		}
	}
}
