package deadman

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kinds of message, in Message.Kind.
const (
	KindPage     = "page"     // every sender silent
	KindWarning  = "warning"  // some silent, not all
	KindBack     = "back"     // every sender heard again
	KindReminder = "reminder" // every sender still silent
)

// RunbookURL is the section of the docs that says what to do.
const RunbookURL = "https://github.com/golemtrust/backupwatch/blob/main/docs/deployment.md#the-dead-mans-switch-backupwatch-deadman"

// Message is what a person is told: a one-line title and a plain text.
type Message struct {
	Kind  string
	Title string
	Text  string
	// HTML, when set, is the same message as an HTML page (the report's):
	// mailed beside the text as multipart/alternative; other notifiers
	// send the text.
	HTML string
}

// messageLocked says what changed from the silent senders a person was
// last told about (was) to those silent now, or reminds them.
func (s *Switch) messageLocked(was, now []string, at time.Time, reminder bool) Message {
	total := len(s.senders)
	var b strings.Builder
	var m Message
	switch {
	case len(now) == 0:
		m.Kind = KindBack
		m.Title = "Dead man's switch: heartbeat back, alerts can reach you again"
		fmt.Fprintf(&b, "Heartbeats arrive again from %s. Alerts sent while it was silent may have been lost: look at the backups' state (backupwatch status, the status page) for what happened meanwhile.\n", s.everyone(total))
	case len(now) == total:
		m.Kind = KindPage
		if reminder {
			m.Kind = KindReminder
		}
		since := s.lastHeardLocked(now)
		if total == 1 {
			m.Title = fmt.Sprintf("Dead man's switch: no heartbeat for %s: alerts may not reach you", age(at, since))
		} else {
			m.Title = fmt.Sprintf("Dead man's switch: %s heartbeat senders silent for %s: alerts may not reach you", allOf(total), age(at, since))
		}
		if reminder {
			m.Title += " (reminder)"
		}
		fmt.Fprintf(&b, "No heartbeat has reached backupwatch deadman for longer than %s. Prometheus, Alertmanager, or the network between them and this machine is down: until it is fixed, no backup alert reaches anyone.\n", s.opts.Timeout)
	default:
		m.Kind = KindWarning
		m.Title = fmt.Sprintf("Dead man's switch: %d of %d heartbeat senders silent (%s)", len(now), total, strings.Join(now, ", "))
		fmt.Fprintf(&b, "%d of %d heartbeat senders sent nothing for longer than %s. Alerts still reach you through the others, but with no spare: fix it before the others fail too.\n", len(now), total, s.opts.Timeout)
	}
	for _, name := range now {
		fmt.Fprintf(&b, "\nSilent: %s, %s.", name, s.heardLocked(name, at))
	}
	for _, name := range was {
		if !slices.Contains(now, name) {
			snd := s.senders[name]
			fmt.Fprintf(&b, "\nBack: %s, silent from %s to %s.", name, stamp(snd.gapFrom), stamp(snd.last))
		}
	}
	if len(now) > 0 && len(now) < total {
		var alive []string
		for name := range s.senders {
			if !slices.Contains(now, name) {
				alive = append(alive, name)
			}
		}
		slices.Sort(alive)
		fmt.Fprintf(&b, "\nStill sending: %s.", strings.Join(alive, ", "))
	}
	fmt.Fprintf(&b, "\n\nWhat to do: %s", RunbookURL)
	m.Text = b.String()
	return m
}

func (s *Switch) everyone(total int) string {
	if total == 1 {
		var name string
		for n := range s.senders {
			name = n
		}
		if name == AnySender {
			return "the alerting path"
		}
		return name
	}
	return allOf(total) + " senders"
}

func allOf(n int) string {
	if n == 2 {
		return "both"
	}
	return fmt.Sprintf("all %d", n)
}

// heardLocked says when a sender was last heard.
func (s *Switch) heardLocked(name string, at time.Time) string {
	last := s.senders[name].last
	if last.IsZero() {
		return fmt.Sprintf("not heard since backupwatch deadman started at %s", stamp(s.started))
	}
	return fmt.Sprintf("last heartbeat at %s (%s ago)", stamp(last), age(at, last))
}

// lastHeardLocked is the latest heartbeat of any of names (zero if none).
func (s *Switch) lastHeardLocked(names []string) time.Time {
	var last time.Time
	for _, n := range names {
		if l := s.senders[n].last; l.After(last) {
			last = l
		}
	}
	if last.IsZero() {
		return s.started
	}
	return last
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// age is how long from since to at, to the second.
func age(at, since time.Time) string {
	return at.Sub(since).Truncate(time.Second).String()
}
