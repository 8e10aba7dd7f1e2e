package web

import (
	"slices"
	"strconv"
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
		switch {
		case r.Unread:
			t.Headline = "not read yet: the store has not been reached since backupwatch started"
			t.Never = true
		case r.RawStatus != "":
			t.Headline = "status " + strconv.Quote(oneLine(r.RawStatus, 64)) + " not understood"
		case r.LastSuccess.IsZero() && r.LastFailure.IsZero() && r.LastAttempt.IsZero():
			t.Headline = "never reported a backup"
			t.Never = true
			// "no record" says no more than the headline.
			t.Problems = bounded(slices.DeleteFunc(slices.Clone(r.Problems), func(p string) bool { return p == "no record" }))
		default:
			t.Headline = "no backup status recorded"
		}
	default:
		t.Colour = "green"
		t.Headline = "last success " + t.LastSuccess.Rel
	}
	if r.ScheduleFrom != "" {
		t.Schedule = r.Schedule.String()
		if d := r.Deadline(now); !d.IsZero() && t.State == OK {
			t.Headline += "; next due " + when(d, now).Abs
		}
	}
	if r.Running() {
		t.Headline += "; running since " + when(r.LastAttempt, now).Rel
		if now.After(r.RunDeadline()) {
			t.Headline += ", longer than it may"
		}
	}
	return t
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
