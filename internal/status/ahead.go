package status

import (
	"fmt"
	"time"
)

// Times beyond the clock skew allowance, as the exporter reads them. record
// refuses a time more than ClockSkew ahead of the writer's clock, but
// another tool, a hand-written record or a host whose clock runs fast can
// still store one. Such a time is neither dropped (the record's outcome is
// real: a fast host's failure must still be seen) nor trusted (a success
// 23 hours ahead would keep its age negative, silencing the overdue alerts
// for two days): it is taken as the moment the exporter first read it, its
// age grows from there, and the record says how far ahead it was, which
// backup_clock_ahead_seconds exports and BackupClockAhead alerts on.

type timeField struct {
	name string
	t    *time.Time
}

// timeFields are the record's times, in a stable order.
func (r *Record) timeFields() []timeField {
	return []timeField{{FieldLastSuccess, &r.LastSuccess}, {FieldLastFailure, &r.LastFailure}, {FieldLastAttempt, &r.LastAttempt}, {FieldFirstRecorded, &r.FirstRecorded}}
}

// ClampFuture takes each time of r further than ClockSkew ahead of now as
// the moment it was first read: now, or, when prev (the same record as read
// before) held the same time already, the moment prev took it as. So the
// age of such a time grows from when it was first seen, and does not fall
// back to nothing when the clock catches up with what was claimed. The
// times as written are kept in Claimed, and each is a problem.
func (r *Record) ClampFuture(now time.Time, prev *Record) {
	limit := now.Add(ClockSkew)
	var before []timeField
	if prev != nil {
		before = prev.timeFields()
	}
	for i, f := range r.timeFields() {
		field, t := f.name, f.t
		claimed := *t
		switch {
		case claimed.IsZero():
			continue
		case prev != nil && prev.Claimed[field].Equal(claimed):
			*t = *before[i].t
		case claimed.After(limit):
			*t = now
		default:
			continue
		}
		if r.Claimed == nil {
			r.Claimed = map[string]time.Time{}
		}
		r.Claimed[field] = claimed
		r.Problems = append(r.Problems, aheadProblem(field, claimed, *t))
	}
}

// Ahead is how far the furthest of r's times lay ahead of the exporter's
// clock when it was first read, beyond ClockSkew; 0 when none did.
func (r Record) Ahead() time.Duration {
	var d time.Duration
	for _, f := range r.timeFields() {
		if claimed, ok := r.Claimed[f.name]; ok {
			d = max(d, claimed.Sub(*f.t))
		}
	}
	return d
}

// ClampFuture is Record.ClampFuture for the restore test's time.
func (rt *RestoreTest) ClampFuture(now time.Time, prev *RestoreTest) {
	claimed := rt.LastTest
	switch {
	case claimed.IsZero():
		return
	case prev != nil && prev.Claimed.Equal(claimed):
		rt.LastTest = prev.LastTest
	case claimed.After(now.Add(ClockSkew)):
		rt.LastTest = now
	default:
		return
	}
	rt.Claimed = claimed
	rt.Problems = append(rt.Problems, aheadProblem(FieldLastTest, claimed, rt.LastTest))
}

// Ahead is how far the restore test's time lay ahead when first read,
// beyond ClockSkew; 0 when it did not.
func (rt RestoreTest) Ahead() time.Duration {
	if rt.Claimed.IsZero() {
		return 0
	}
	return rt.Claimed.Sub(rt.LastTest)
}

func aheadProblem(field string, claimed, seen time.Time) string {
	return fmt.Sprintf("%s: %s was %s ahead of the exporter's clock when first read, more than the %s allowed: taken as %s (is the writer's clock right?)",
		field, FormatTime(claimed), claimed.Sub(seen).Round(time.Second), ClockSkew, FormatTime(seen))
}
