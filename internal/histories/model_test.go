package histories

import (
	"fmt"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// deliverEntry is a spool entry and the message that names it.
type deliverEntry struct {
	spool.Entry
	msg string
}

func newEntry(s step, at time.Time, msg string) deliverEntry {
	res := &status.Result{Host: s.Host, Job: s.Job, Outcome: s.Outcome, At: at, Message: msg}
	if s.Outcome != "" {
		res.Schedule = schedules[s.Sched]
	}
	return deliverEntry{Entry: spool.Entry{Result: res}, msg: msg}
}

func (w *world) everDelivered(msg string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range w.delivered {
		if d.msg == msg {
			return true
		}
	}
	return false
}

// listed is what flush --list shows: waiting and set aside.
func (w *world) listed() (map[string]bool, error) {
	items, err := w.dl[0].List()
	out := map[string]bool{}
	for _, it := range items {
		out[it.Item.Entry.Result.Message] = true
	}
	return out, err
}

// want is what the model says a host's or job's record shows.
type want struct {
	host, job   string
	present     bool
	status      string
	message     string
	lastSuccess time.Time
	lastFailure time.Time
	lastAttempt time.Time
	schedule    string
	failures    int64 // consecutive; -1 when no outcome
}

// expected computes each key's record from the results that reached the
// store since its latest forget, ordered by real time.
func (h *history) expected() []want {
	var out []want
	for _, host := range hosts {
		for _, job := range jobs {
			key := status.Key(host, job)
			got := h.w.deliveredSince(h.forgotAt[key], key)
			var rs []*run
			for _, r := range h.runs {
				if got[r.entry.msg] {
					rs = append(rs, r)
				}
			}
			out = append(out, model(host, job, rs))
		}
	}
	return out
}

// realBefore orders runs by when they happened: late ones first (by their
// time), then the others as they were handed over.
func realBefore(a, b *run) bool {
	switch {
	case a.late && b.late:
		if !a.entry.At().Equal(b.entry.At()) {
			return a.entry.At().Before(b.entry.At())
		}
		return a.seq < b.seq
	case a.late != b.late:
		return a.late
	}
	return a.seq < b.seq
}

func model(host, job string, rs []*run) want {
	w := want{host: host, job: job, present: len(rs) > 0, status: status.Unknown, failures: -1}
	var ordered []*run
	for _, r := range rs {
		at := r.entry.At().Truncate(time.Second)
		res := r.entry.Result
		switch res.Outcome {
		case "":
			w.lastAttempt = later(w.lastAttempt, at)
			continue
		case status.Success:
			w.lastSuccess = later(w.lastSuccess, at)
		case status.Failed:
			w.lastFailure = later(w.lastFailure, at)
		}
		i := 0
		for i < len(ordered) && realBefore(ordered[i], r) {
			i++
		}
		ordered = append(ordered[:i], append([]*run{r}, ordered[i:]...)...)
	}
	// The store keeps times to the second: two failures of one second
	// are one to it (it cannot tell them from one delivered twice).
	failed := map[time.Time]bool{}
	for _, r := range ordered {
		res := r.entry.Result
		w.status, w.message = res.Outcome, res.Message
		if res.Schedule != nil {
			w.schedule = scheduleString(res.Schedule)
		}
		if res.Outcome == status.Success {
			w.failures = 0
			clear(failed)
			continue
		}
		if at := r.entry.At().Truncate(time.Second); !failed[at] {
			failed[at] = true
			w.failures = max(w.failures, 0) + 1
		}
	}
	if w.status == status.Success {
		w.failures = 0
	}
	return w
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// compare checks a snapshot against the model; where names the reader.
func compare(where string, wants []want, snap *fleet.Snapshot) []string {
	var bad []string
	limit := time.Now().Add(status.ClockSkew)
	for _, w := range wants {
		name := status.Name(w.host, w.job)
		var got *status.Record
		list := snap.Hosts
		if w.job != "" {
			list = snap.Jobs
		}
		if i, ok := list.Search(status.JobID{Host: w.host, Job: w.job}); ok {
			got = list.At(i)
		}
		if got != nil && got.NoRecord {
			got = nil
		}
		switch {
		case !w.present && got != nil:
			bad = append(bad, fmt.Sprintf("%s: %s shows a record (status %s), want none", where, name, got.Status))
			continue
		case !w.present:
			continue
		case got == nil:
			bad = append(bad, fmt.Sprintf("%s: %s shows no record, want status %s (%s)", where, name, w.status, w.message))
			continue
		}
		diff := func(field string, g, wv any) {
			if fmt.Sprint(g) != fmt.Sprint(wv) {
				bad = append(bad, fmt.Sprintf("%s: %s %s = %v, want %v", where, name, field, g, wv))
			}
		}
		diff("status", got.Status, w.status)
		diff("message", got.Message, w.message)
		diff("last_success", fmtTime(got.LastSuccess), fmtTime(w.lastSuccess))
		diff("last_failure", fmtTime(got.LastFailure), fmtTime(w.lastFailure))
		diff("last_attempt", fmtTime(got.LastAttempt), fmtTime(w.lastAttempt))
		diff("schedule", scheduleString(got.RecordedSchedule), w.schedule)
		failures := int64(-1)
		if got.ConsecutiveFailures != nil {
			failures = *got.ConsecutiveFailures
		}
		// consecutive_failures counts the failures that became the status
		// in a row: a late one, older than the status when it arrived, is
		// not counted (internal/status/merge.go says why). So it is at
		// least 1 and at most the model's count while failed, 0 after a
		// success.
		if w.failures >= 1 && failures >= 1 && failures <= w.failures {
			failures = w.failures
		}
		diff("consecutive_failures", failures, w.failures)
		for _, t := range []time.Time{got.LastSuccess, got.LastFailure, got.LastAttempt} {
			if t.After(limit) {
				bad = append(bad, fmt.Sprintf("%s: %s shows %s, beyond the clock skew allowance", where, name, fmtTime(t)))
			}
		}
	}
	return bad
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return status.FormatTime(t)
}
