package status

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
)

// ClockSkew is how far in the future a time may lie when it is recorded:
// the clocks of machines kept by NTP differ by far less, so a time beyond
// it is a wrong clock or a wrong --at. Such a result is refused when it is
// recorded and when it is delivered from the spool, a stored time beyond
// it loses to any real result in the merge (Apply), so that it can never
// make a present result look older, and the exporter takes such a time as
// the moment it first read it (the same bound on both sides). Within it,
// the dated times do not order results: arrival does (see older).
const ClockSkew = 5 * time.Minute

// CheckNotFuture refuses a time t more than ClockSkew after now.
func CheckNotFuture(t, now time.Time) error {
	if t.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%s is %s in the future, more than the %s clock skew allowed", FormatTime(t), t.Sub(now).Round(time.Second), ClockSkew)
	}
	return nil
}

// Result is one backup outcome to be recorded. An empty Outcome records only
// an attempt (the start of a run), so that a hung or killed run is visible.
type Result struct {
	Host     string
	Job      string // "" for the host's own record
	Outcome  string // Success, Failed, or "" for an attempt
	At       time.Time
	ExitCode *int64
	Duration *float64 // seconds
	Message  string
	// Schedule, when not nil, is recorded with the result (the record then
	// holds the schedule of its latest result).
	Schedule *schedule.Schedule
	// Extra holds further result fields (restic's snapshot summary); other
	// keys are ignored.
	Extra map[string]string
}

// resultFields describe the latest result and are replaced as a whole when
// a newer result arrives, so a failure never carries a stale snapshot id.
var resultFields = []string{
	FieldExitCode, FieldDuration, FieldMessage,
	FieldSnapshotID, FieldBytesAdded, FieldFilesNew, FieldFilesChanged, FieldFilesUnmodified,
	FieldFilesProcessed, FieldBytesProcessed, FieldPingFailures, FieldKind,
}

// Apply merges res into the stored document old and returns the document to
// write, and whether it differs from old. Fields it does not know are kept.
// The status becomes the outcome of the result that arrives last, unless
// that result is known to be older (see older): then it only advances the
// timestamps it is newer than. last_success and last_failure are always
// the latest of their kind by their dated times.
func Apply(old map[string]any, res Result) (map[string]any, bool) {
	doc, changed, _ := Merge(old, res)
	return doc, changed
}

// Verdict says what a merge made of a result.
type Verdict int

const (
	// Current: the result is the record's status (an attempt: its start).
	Current Verdict = iota
	// Older: an older result delivered late; its time is kept, the status
	// is a later result's.
	Older
)

func (v Verdict) String() string {
	if v == Older {
		return "older"
	}
	return "current"
}

// Merge is Apply, also saying what became of res. Every outcome, current
// or older, also goes into the record's history (addHistory).
func Merge(old map[string]any, res Result) (map[string]any, bool, Verdict) {
	doc, changed, v := merge(old, res)
	if res.Outcome != "" && addHistory(doc, res, res.At.Truncate(time.Second), time.Now()) {
		changed = true
	}
	return doc, changed, v
}

func merge(old map[string]any, res Result) (map[string]any, bool, Verdict) {
	cur := Parse("", old)
	doc := maps.Clone(old)
	if doc == nil {
		doc = map[string]any{}
	}
	changed := false
	// A stored time beyond the clock skew allowance would win every
	// comparison until the clock caught up with it, hiding real results:
	// it counts as never. A real outcome also removes such a time, so the
	// record stops claiming a success (or failure) that has not happened.
	now := time.Now()
	limit := now.Add(ClockSkew)
	for _, f := range []struct {
		t     *time.Time
		field string
	}{{&cur.LastSuccess, FieldLastSuccess}, {&cur.LastFailure, FieldLastFailure}, {&cur.LastAttempt, FieldLastAttempt}} {
		if !f.t.After(limit) {
			continue
		}
		*f.t = time.Time{}
		if res.Outcome != "" && f.field != FieldLastAttempt {
			delete(doc, f.field)
			changed = true
		}
	}
	set := func(k, v string) {
		if s, ok := doc[k].(string); !ok || s != v {
			doc[k] = v
			changed = true
		}
	}
	at := res.At.Truncate(time.Second)
	// first_recorded is the earliest result or start known: a result
	// replayed late, or backfilled with --at, moves it back.
	if isNew(old) || (!cur.FirstRecorded.IsZero() && at.Before(cur.FirstRecorded)) {
		set(FieldFirstRecorded, FormatTime(at))
	}

	switch res.Outcome {
	case "":
		if at.After(cur.LastAttempt) {
			set(FieldLastAttempt, FormatTime(at))
		}
		if res.Schedule != nil && !at.Before(cur.LastAttempt) && !at.Before(cur.LastResult()) {
			applySchedule(doc, *res.Schedule, set, &changed)
		}
		return doc, changed, Current
	case Success:
		if at.After(cur.LastSuccess) {
			set(FieldLastSuccess, FormatTime(at))
		}
	case Failed:
		if at.After(cur.LastFailure) {
			set(FieldLastFailure, FormatTime(at))
		}
	}
	if older(cur, res.Outcome, at, now) {
		// Not counted in consecutive_failures, even a failure after the
		// last success: the record keeps only the latest failure's time,
		// so a late failure delivered twice (a flush racing a record)
		// could not be told from two, and would be counted twice. A late
		// success between the counted failures leaves one known failure
		// after it: the status's.
		if res.Outcome == Success && cur.Status == Failed && at.After(cur.LastSuccess) && at.Before(cur.statusAt()) {
			set(FieldConsecutiveFailures, "1")
		}
		return doc, changed, Older
	}

	failures := int64(0)
	if res.Outcome == Failed {
		failures = 1
		if cur.Status == Failed && cur.ConsecutiveFailures != nil {
			failures = *cur.ConsecutiveFailures + 1
			if at.Equal(cur.statusAt()) {
				failures = *cur.ConsecutiveFailures // the same failure delivered twice
			}
		}
	}
	set(FieldStatus, res.Outcome)
	// status_at only when it differs from the latest time of its outcome
	// (the status came from a result dated before an earlier arrival's).
	latest := cur.LastFailure
	if res.Outcome == Success {
		latest = cur.LastSuccess
	}
	if at.Before(latest) {
		set(FieldStatusAt, FormatTime(at))
	} else if _, had := doc[FieldStatusAt]; had {
		delete(doc, FieldStatusAt)
		changed = true
	}
	if res.Schedule != nil {
		applySchedule(doc, *res.Schedule, set, &changed)
	}
	set(FieldConsecutiveFailures, strconv.FormatInt(failures, 10))

	fields := map[string]string{}
	if res.ExitCode != nil {
		fields[FieldExitCode] = strconv.FormatInt(*res.ExitCode, 10)
	}
	if res.Duration != nil {
		fields[FieldDuration] = strconv.FormatFloat(*res.Duration, 'f', 3, 64)
	}
	if m := CleanText(res.Message); m != "" {
		fields[FieldMessage] = Truncate(m, maxMessage)
	}
	for k, v := range res.Extra {
		// Only result fields: an extra "status" or "last_success" (from a
		// spool file, say) must not overrule the merge above.
		if slices.Contains(resultFields, k) {
			fields[k] = v
		}
	}
	for _, k := range resultFields {
		if _, keep := fields[k]; !keep {
			if _, had := doc[k]; had {
				delete(doc, k)
				changed = true
			}
		}
	}
	for k, v := range fields {
		set(k, v)
	}
	return doc, changed, Current
}

// FreshWindow is how soon after its dated time a result must be delivered,
// by its writer's clock, to count as fresh: it ended just now (a run's end,
// a record without --at, or one an operator dates a few minutes back), so
// it is later in real time than everything the record holds, which
// arrived before it. The clock skew allowance, what a clock may be off by
// either way, plus 2 minutes for the delivery itself (a record retried
// through a Vault fail-over, a loaded machine). Found by the property
// tests: results from two clocks 225 s ahead and 80 s behind, or dated
// 60 s back by hand, were hidden by the earlier arrival; and one dated
// 295 s back, delivered 40 s later on a loaded machine.
const FreshWindow = ClockSkew + 2*time.Minute

// older reports whether a result dated at, delivered now (by the writer's
// clock), is older than the record's status. It is newer, and becomes the
// status, when any of these holds:
//   - it is dated at or after the latest stored result;
//   - it ended after the record's last write (written_at), by the writers'
//     clocks: the stored results, whatever their dated times, arrived
//     before it ended (a success recorded with --at a few minutes ahead);
//   - it is fresh (FreshWindow): it arrived after the stored one and ended
//     just now, so whatever the stored one's dated time says (at most
//     ClockSkew ahead: record refuses more), it is later in real time (a
//     failure after an NTP step back, or from a host whose clock is behind
//     another writer's).
//
// Otherwise the dated times decide (a spool delivered after an outage, a
// backfill with --at, results of one clock arriving out of order). A
// result already recorded (same outcome, same second as the stored time
// of that outcome) that is not the status's, delivered again, is older
// whatever else holds.
func older(cur Record, outcome string, at, now time.Time) bool {
	switch {
	case outcome == Success && at.Equal(cur.LastSuccess) && !at.Equal(cur.statusAt()),
		outcome == Failed && at.Equal(cur.LastFailure) && !at.Equal(cur.statusAt()):
		// A result already stored, not the status's: delivered again.
		return true
	case !at.Before(cur.LastResult()):
		return false
	case !cur.WrittenAt.IsZero() && at.After(cur.WrittenAt):
		return false
	case now.Sub(at) <= FreshWindow:
		return false
	}
	return true
}

// statusAt is the dated time of the result holding the status: status_at,
// or (when the status's result is the latest of its outcome, or the record
// is older than the field) the latest time of that outcome.
func (r Record) statusAt() time.Time {
	switch {
	case !r.StatusAt.IsZero():
		return r.StatusAt
	case r.Status == Failed:
		return r.LastFailure
	case r.Status == Success:
		return r.LastSuccess
	}
	return time.Time{}
}

// isNew reports whether old is no record yet (or one without any status or
// time): the result being merged is its first.
func isNew(old map[string]any) bool {
	for _, k := range []string{FieldStatus, FieldLastSuccess, FieldLastFailure, FieldLastAttempt, FieldFirstRecorded} {
		if _, ok := old[k]; ok {
			return false
		}
	}
	return true
}
