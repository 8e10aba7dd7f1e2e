package statusview

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/heartbeat"
	"github.com/golemtrust/backupwatch/internal/status"
)

// AlertingPath is a dead man's switch as `status --deadman.url` shows
// it, also its JSON form.
type AlertingPath struct {
	Switch string `json:"switch"` // its URL, without credentials
	// State is fine, partial (some senders silent), silent (all),
	// starting (the switch does not judge yet) or unreachable.
	State   string           `json:"state"`
	Summary string           `json:"summary"` // the line the table prints
	Error   string           `json:"error,omitempty"`
	Judging bool             `json:"judging"`
	Senders []AlertingSender `json:"senders"`
}

// AlertingSender is one sender of heartbeats to the switch.
type AlertingSender struct {
	Name          string   `json:"name"`
	LastHeartbeat string   `json:"last_heartbeat,omitempty"`
	AgeSeconds    *float64 `json:"age_seconds"` // null: none since the switch's state began
	Silent        bool     `json:"silent"`
}

// maxSendersShown bounds the senders named on the summary line.
const maxSendersShown = 5

// AddAlertingPath adds the switches' states to the report.
func AddAlertingPath(rep *Report, states []heartbeat.State, now time.Time) {
	for _, st := range states {
		a := AlertingPath{Switch: st.Switch, State: st.Verdict(), Error: st.Err, Judging: st.Judging, Senders: []AlertingSender{}}
		for _, s := range st.Senders {
			as := AlertingSender{Name: s.Name, Silent: s.Silent}
			if !s.Last.IsZero() {
				as.LastHeartbeat = status.FormatTime(s.Last)
				age := now.Sub(s.Last).Seconds()
				as.AgeSeconds = &age
			}
			a.Senders = append(a.Senders, as)
		}
		a.Summary = summary(st, now)
		rep.AlertingPath = append(rep.AlertingPath, a)
	}
}

// alertingProblem says why the alerting path is a problem, "" when it is
// not: a sender silent (deadman warns or pages a person) or the switch
// unreachable (BackupwatchDeadmanDown).
func alertingProblem(rep Report) string {
	for _, a := range rep.AlertingPath {
		switch a.State {
		case heartbeat.Partial, heartbeat.Silent, heartbeat.Unreachable:
			return "alerting path: " + a.Summary
		}
	}
	return ""
}

// summary is the switch's state on one line.
func summary(st heartbeat.State, now time.Time) string {
	n, silent := len(st.Senders), st.SilentCount()
	switch st.Verdict() {
	case heartbeat.Unreachable:
		return "the dead man's switch " + st.Switch + " is unreachable: " + st.Err
	case heartbeat.Pending:
		return "the dead man's switch " + st.Switch + " has not been read yet"
	case heartbeat.Starting:
		return "the dead man's switch " + st.Switch + " started less than its timeout (" + st.Timeout.String() + ") ago and does not judge yet; heartbeats from " + senders(st, now, false)
	case heartbeat.Silent:
		return "all " + plural(n, "sender") + " silent: " + senders(st, now, true) + "; nothing reaches a person through Alertmanager (the switch " + st.Switch + " pages)"
	case heartbeat.Partial:
		return strconv.Itoa(silent) + " of " + plural(n, "sender") + " silent: " + senders(st, now, true) + " (the switch " + st.Switch + " warns)"
	}
	return "heartbeats fine from " + senders(st, now, false) + " (the switch " + st.Switch + ")"
}

// senders names the silent senders (or all of them), each with its last
// heartbeat, at most maxSendersShown.
func senders(st heartbeat.State, now time.Time, silentOnly bool) string {
	var parts []string
	more := 0
	for _, s := range st.Senders {
		if silentOnly && !s.Silent {
			continue
		}
		if len(parts) == maxSendersShown {
			more++
			continue
		}
		p := s.Name
		switch {
		case s.Last.IsZero():
			p += " never heard since the switch's state began"
		case silentOnly:
			p += " since " + status.FormatTime(s.Last) + " (" + ago(now.Sub(s.Last)) + ")"
		default:
			p += " " + ago(now.Sub(s.Last))
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "no sender yet"
	}
	if more > 0 {
		parts = append(parts, "and "+strconv.Itoa(more)+" more")
	}
	return strings.Join(parts, ", ")
}

func ago(d time.Duration) string {
	if d < 0 {
		return (-d).Truncate(time.Second).String() + " in the future"
	}
	return d.Truncate(time.Second).String() + " ago"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// writeAlertingPath writes one line per switch, after the table.
func writeAlertingPath(w io.Writer, rep Report) {
	for _, a := range rep.AlertingPath {
		fmt.Fprintln(w, "alerting path:", a.Summary)
	}
}
