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
// recorded and when it is delivered from the spool, and a stored time
// beyond it loses to any real result in the merge (Apply), so that it can
// never make a present result look older.
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
	FieldFilesProcessed, FieldBytesProcessed, FieldPingFailures,
}

// Apply merges res into the stored document old and returns the document to
// write, and whether it differs from old. Fields it does not know are kept.
// It never moves a host backwards: a result older than what is stored only
// advances the timestamps it is newer than, and never the status.
func Apply(old map[string]any, res Result) (map[string]any, bool) {
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
	limit := time.Now().Add(ClockSkew)
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

	switch res.Outcome {
	case "":
		if at.After(cur.LastAttempt) {
			set(FieldLastAttempt, FormatTime(at))
		}
		if res.Schedule != nil && !at.Before(cur.LastAttempt) && !at.Before(cur.LastResult()) {
			applySchedule(doc, *res.Schedule, set, &changed)
		}
		return doc, changed
	case Success:
		if at.After(cur.LastSuccess) {
			set(FieldLastSuccess, FormatTime(at))
		}
	case Failed:
		if at.After(cur.LastFailure) {
			set(FieldLastFailure, FormatTime(at))
		}
	}
	if at.Before(cur.LastResult()) {
		return doc, changed // an older result replayed late: status stays
	}

	failures := int64(0)
	if res.Outcome == Failed {
		failures = 1
		if cur.Status == Failed && cur.ConsecutiveFailures != nil && at.After(cur.LastFailure) {
			failures = *cur.ConsecutiveFailures + 1
		} else if cur.Status == Failed && cur.ConsecutiveFailures != nil {
			failures = *cur.ConsecutiveFailures // the same failure delivered twice
		}
	}
	set(FieldStatus, res.Outcome)
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
	if res.Message != "" {
		fields[FieldMessage] = Truncate(res.Message, maxMessage)
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
	return doc, changed
}
