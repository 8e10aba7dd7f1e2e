package web

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/status"
)

func tile(r *status.Record, now time.Time) Tile {
	host := oneLine(r.Host, maxHostText)
	id := "host-" + host
	if r.Job != "" {
		id = "job-" + host + "@" + r.Job
	}
	t := Tile{
		Host:        host,
		Job:         r.Job,
		ID:          id,
		State:       StateOf(r, now),
		Status:      r.Status,
		AgeSeconds:  collector.Age(r.LastSuccess, now),
		LastSuccess: when(r.LastSuccess, now),
		LastFailure: when(r.LastFailure, now),
		Problems:    bounded(r.Problems),
	}
	age := time.Duration(t.AgeSeconds) * time.Second
	switch t.State {
	case Failed:
		t.Colour = "red"
		t.Headline = "last backup failed"
		if n := r.ConsecutiveFailures; n != nil && *n > 1 {
			t.Headline += ", " + strconv.FormatInt(*n, 10) + " times in a row"
		}
		if !established(r.LastSuccess, now) {
			t.Headline += "; has never recorded a successful backup"
		}
		if r.ExitCode != nil {
			t.ExitCode = strconv.FormatInt(*r.ExitCode, 10)
		}
		t.Message = oneLine(r.Message, maxLine)
		t.MessageFull = lines(r.Message, maxHover)
	case Overdue:
		t.Colour = "amber"
		if age >= RedAfter {
			t.Colour = "red"
		}
		switch {
		case established(r.LastSuccess, now):
			t.Headline = "no successful backup for " + span(age)
		case !r.LastSuccess.IsZero():
			t.Headline = "its last success is dated " + span(r.LastSuccess.Sub(now)) + " in the future (a wrong clock or record): counted as never"
		default:
			t.Headline = "says success but has no time of a successful backup: counted as never"
		}
	case Unknown:
		t.Colour = "grey"
		unreadable := slices.DeleteFunc(slices.Clone(r.Problems), func(p string) bool { return p == "no record" })
		noTimes := r.LastSuccess.IsZero() && r.LastFailure.IsZero()
		switch {
		case r.Unread:
			t.Headline = "not read yet: the store has not been reached since backupwatch started"
			t.Never = true
		case r.RawStatus != "":
			t.Headline = "status " + strconv.Quote(oneLine(r.RawStatus, 64)) + " not understood"
		case noTimes && r.Running():
			// Its first run, in progress: nothing is wrong yet.
			t.Headline = "running its first backup, started " + when(r.LastAttempt, now).Rel
			t.Short, t.Never = "running", true
		case noTimes && r.LastAttempt.IsZero() && !r.NoRecord && len(unreadable) > 0:
			// A malformed record: the reason is the headline, not
			// folded away under "never reported".
			t.Headline = "record unreadable: " + unreadableReason(r.Host, unreadable[0])
			t.Short, t.Never = "record unreadable", true
			t.Problems = bounded(unreadable[1:])
		case noTimes && r.LastAttempt.IsZero():
			t.Headline = "never reported a backup"
			t.Short, t.Never = "never reported", true
			// "no record" says no more than the headline.
			t.Problems = bounded(unreadable)
		default:
			t.Headline = "no backup status recorded"
		}
	default:
		t.Colour = "green"
		t.Headline = "last success " + t.LastSuccess.Rel
	}
	if r.ScheduleFrom != "" {
		t.Schedule = r.Schedule.String()
		switch d := r.Deadline(now); {
		case d.IsZero():
		case t.State == OK:
			t.Headline += "; next due " + when(d, now).Abs
		case t.Short == "running":
			t.Headline += "; due by " + when(d, now).Abs
		case t.State == Overdue && now.After(d):
			t.Headline += "; was due " + span(now.Sub(d)) + " ago"
		}
	}
	if r.Running() && t.Short != "running" {
		t.Headline += "; running since " + when(r.LastAttempt, now).Rel
		if now.After(r.RunDeadline()) {
			t.Headline += ", longer than it may"
		}
	}
	return t
}

// unreadableReason is a store's error about a malformed record, without
// the words the headline already says.
func unreadableReason(host, p string) string {
	p = strings.TrimPrefix(p, "read "+host+": ")
	p = strings.TrimPrefix(p, "malformed record: ")
	return oneLine(p, maxLine)
}

func restoreView(rt *status.RestoreTest, now time.Time) RestoreView {
	if rt == nil {
		return RestoreView{State: "never", Colour: "grey", Headline: "No restore test has been recorded yet."}
	}
	rv := RestoreView{
		Date:       when(rt.LastTest, now),
		AgeSeconds: collector.Age(rt.LastTest, now),
		HostTested: oneLine(rt.HostTested, maxHostText),
		Notes:      oneLine(rt.Notes, maxLine),
		NotesFull:  lines(rt.Notes, maxHover),
		Problems:   bounded(rt.Problems),
	}
	if m := rt.TimeToRestoreMinutes; m != nil && *m >= 0 && *m < 1e7 {
		rv.TimeToRestore = span(time.Duration(*m * float64(time.Minute)))
	}
	overdue := time.Duration(rv.AgeSeconds)*time.Second > RestoreOverdueAfter
	switch {
	case rt.Result == status.Failed:
		rv.State, rv.Colour, rv.Headline = "failed", "red", "The last restore test failed."
	case rt.Result != status.Passed:
		rv.State, rv.Colour, rv.Headline = "unknown", "red", "The last restore test's result is not recorded or not understood: it does not show that a restore works."
	case overdue:
		rv.State, rv.Colour, rv.Headline = "overdue", "amber", "The last restore test passed, but it is over 90 days old: the quarterly test is overdue."
	default:
		rv.State, rv.Colour, rv.Headline = "passed", "green", "The last restore test passed."
	}
	return rv
}

// Why is a failure's exit code and message, as the tile shows them.
func (t Tile) Why() string {
	s := "no exit code recorded"
	if t.ExitCode != "" {
		s = "exit code " + t.ExitCode
	}
	if t.Message == "" {
		return s + ", no message recorded"
	}
	return s + ": " + t.Message
}
