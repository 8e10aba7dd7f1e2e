package web

import (
	"slices"
	"strconv"
	"time"

	"github.com/golemtrust/backupwatch/internal/heartbeat"
)

// maxSendersShown bounds the senders listed per switch: the silent ones
// first.
const maxSendersShown = 20

// AlertingView is one dead man's switch in the page's "Alerting path":
// whose heartbeats arrive, who is silent since when, or why the switch
// cannot be read.
type AlertingView struct {
	Switch   string // its URL, without credentials
	State    string // a heartbeat verdict: fine, partial, silent, starting, pending, unreachable
	Colour   string // green, amber (some silent), red (all silent), grey (not known)
	Headline string
	Silent   int // senders silent
	Total    int // senders
	Senders  []AlertingSender
	More     int // senders not listed
	Read     When
}

// AlertingSender is a sender of heartbeats, as the switch judges it.
type AlertingSender struct {
	Name   string
	Silent bool
	Last   When
}

// alertingViews is the section's view of each switch; nil without
// Options.AlertingPath, and the section is absent.
func alertingViews(opts Options, now time.Time) []AlertingView {
	if opts.AlertingPath == nil {
		return nil
	}
	var out []AlertingView
	for _, st := range opts.AlertingPath() {
		a := AlertingView{
			Switch: oneLine(st.Switch, maxLine), State: st.Verdict(), Colour: "grey",
			Silent: st.SilentCount(), Total: len(st.Senders), Read: when(st.Read, now),
		}
		senders := slices.Clone(st.Senders)
		slices.SortStableFunc(senders, func(x, y heartbeat.Sender) int {
			switch {
			case x.Silent == y.Silent:
				return 0
			case x.Silent:
				return -1
			}
			return 1
		})
		for i, s := range senders {
			if i == maxSendersShown {
				a.More = len(senders) - i
				break
			}
			a.Senders = append(a.Senders, AlertingSender{Name: oneLine(s.Name, maxHostText), Silent: s.Silent, Last: when(s.Last, now)})
		}
		of := strconv.Itoa(a.Silent) + " of " + plural(a.Total, "sender")
		switch a.State {
		case heartbeat.Fine:
			a.Colour, a.Headline = "green", "heartbeats arrive from every sender ("+plural(a.Total, "sender")+"): Prometheus and Alertmanager can reach a person."
		case heartbeat.Partial:
			a.Colour, a.Headline = "amber", of+" silent: the dead man's switch warns; alerts still reach people through the others."
		case heartbeat.Silent:
			a.Colour, a.Headline = "red", "all "+plural(a.Total, "sender")+" silent: no alert reaches a person through Alertmanager; the dead man's switch pages."
		case heartbeat.Starting:
			a.Headline = "the dead man's switch started less than its timeout (" + st.Timeout.String() + ") ago and does not judge yet."
		case heartbeat.Unreachable:
			a.Headline = "the dead man's switch cannot be read: " + oneLine(st.Err, maxLine) + ". If it is down, nobody is told when Prometheus or Alertmanager stops (BackupwatchDeadmanDown)."
		default:
			a.Headline = "the dead man's switch has not been read yet."
		}
		out = append(out, a)
	}
	return out
}
