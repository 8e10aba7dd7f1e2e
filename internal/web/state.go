package web

import (
	"time"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/status"
)

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
