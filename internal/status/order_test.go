package status

import (
	"testing"
	"time"
)

// TestLaterArrivalWinsInsideTheAllowance is issue 16's first reproduction:
// a success dated 290 s ahead (a fast clock, an --at by hand), then a
// failure recorded now. The failure arrives later in real time and must be
// the status; the dated times are only information.
func TestLaterArrivalWinsInsideTheAllowance(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	for _, tc := range []struct {
		name     string
		history  []Result
		status   string
		failures string
		verdict  Verdict // of the last result
	}{
		{
			name:     "failure after a success 290s ahead",
			history:  []Result{{Outcome: Success, At: at(290 * time.Second)}, {Outcome: Failed, At: now, Message: "disk full"}},
			status:   Failed,
			failures: "1",
			verdict:  Current,
		},
		{
			name:     "success after a failure 290s ahead",
			history:  []Result{{Outcome: Failed, At: at(290 * time.Second)}, {Outcome: Success, At: now}},
			status:   Success,
			failures: "0",
			verdict:  Current,
		},
		{
			name:     "failures counted across a clock stepped back",
			history:  []Result{{Outcome: Failed, At: at(4 * time.Minute)}, {Outcome: Failed, At: now}},
			status:   Failed,
			failures: "2",
			verdict:  Current,
		},
		{
			name:     "success, failure, success after the clock stepped back",
			history:  []Result{{Outcome: Success, At: at(290 * time.Second)}, {Outcome: Failed, At: now}, {Outcome: Success, At: at(time.Minute)}},
			status:   Success,
			failures: "0",
			verdict:  Current,
		},
		{
			name:     "a result older than the allowance (and its delivery) is history only",
			history:  []Result{{Outcome: Success, At: now}, {Outcome: Failed, At: at(-FreshWindow - time.Second)}},
			status:   Success,
			failures: "0",
			verdict:  Older,
		},
		{
			name:     "a failure delivered again after a later success",
			history:  []Result{{Outcome: Failed, At: at(-time.Minute)}, {Outcome: Success, At: now}, {Outcome: Failed, At: at(-time.Minute)}},
			status:   Success,
			failures: "0",
			verdict:  Older,
		},
		{
			name:     "the same failure delivered twice",
			history:  []Result{{Outcome: Failed, At: now}, {Outcome: Failed, At: now}},
			status:   Failed,
			failures: "1",
			verdict:  Current,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			var v Verdict
			for _, res := range tc.history {
				doc, _, v = Merge(doc, res)
			}
			if doc[FieldStatus] != tc.status || doc[FieldConsecutiveFailures] != tc.failures {
				t.Errorf("status %v, consecutive_failures %v; want %s, %s (record %v)", doc[FieldStatus], doc[FieldConsecutiveFailures], tc.status, tc.failures, doc)
			}
			if v != tc.verdict {
				t.Errorf("verdict of the last result = %v, want %v", v, tc.verdict)
			}
		})
	}
}

// TestRecordedScheduleBeyondTheCap: a record already holding a schedule
// rarer than the cap (written before it, or by hand: "731d", a leap-day
// cron) is judged by the runbook's 24 hours, with a problem saying why, so
// it cannot turn off the overdue alerts for years (issue 16, item 9).
func TestRecordedScheduleBeyondTheCap(t *testing.T) {
	for _, sched := range []string{"731d", "0 0 29 2 *", "@yearly", "1ns"} {
		r := Parse("db", map[string]any{"status": "success", "last_success": FormatTime(time.Now()), FieldSchedule: sched})
		if r.RecordedSchedule != nil || !r.Schedule.IsDefault() || len(r.Problems) != 1 {
			t.Errorf("schedule %q: recorded %v, judged by %s, problems %q; want the default and one problem", sched, r.RecordedSchedule, r.Schedule, r.Problems)
		}
	}
}

// TestDatedOrderWhenNotFresh: a result delivered long after its dated time
// (a spool after an outage, --at by hand) is ordered by its dated time
// among results of one clock; one that ended after the record's last
// write (written_at, by the writers' clocks) is newer whatever the stored
// result is dated, so a success recorded a few minutes ahead hides no
// failure delivered late from a spool either.
func TestDatedOrderWhenNotFresh(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	with := func(doc map[string]any, written time.Time) map[string]any {
		doc[FieldWrittenAt] = FormatTime(written)
		return doc
	}
	// Two results of one clock an hour ago, arriving out of order.
	doc, _, _ := Merge(nil, Result{Outcome: Success, At: at(-time.Hour + 30*time.Second)})
	doc = with(doc, now)
	doc, _, v := Merge(doc, Result{Outcome: Failed, At: at(-time.Hour)})
	if doc[FieldStatus] != Success || v != Older {
		t.Errorf("an older result of one clock, delivered late, became the status: %v (%v)", doc, v)
	}
	// A success written 10 minutes ago, dated 4 minutes ahead of that; a
	// failure that ended 7 minutes ago, delivered now from the spool.
	doc, _, _ = Merge(nil, Result{Outcome: Success, At: at(-6 * time.Minute)})
	doc = with(doc, at(-10*time.Minute))
	doc, _, v = Merge(doc, Result{Outcome: Failed, At: at(-7 * time.Minute)})
	if doc[FieldStatus] != Failed || v != Current {
		t.Errorf("a failure that ended after the last write was hidden: %v (%v)", doc, v)
	}
}
