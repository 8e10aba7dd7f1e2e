package repocheck

import (
	"time"

	"github.com/golemtrust/backupwatch/internal/config"
)

// Record fields of a host's retention, for hosts with a policy.
const (
	FieldPointsMissing    = "restore_points_missing" // restore points the policy promises that the repository lacks
	FieldSnapshotsAllowed = "snapshots_allowed"      // more than this: forget is not running
)

// period is one of restic's retention periods, as a number that grows by
// one from one period to the next. UTC: restic forget buckets by the
// local time of the machine that runs it; a bucket a few hours off still
// counts each period once.
type period struct {
	keep  func(config.Policy) int
	index func(time.Time) int64
}

var periods = []period{
	{func(p config.Policy) int { return p.KeepHourly }, func(t time.Time) int64 { return t.Unix() / 3600 }},
	{func(p config.Policy) int { return p.KeepDaily }, days},
	{func(p config.Policy) int { return p.KeepWeekly }, func(t time.Time) int64 { return (days(t) + 3) / 7 }}, // weeks from Monday
	{func(p config.Policy) int { return p.KeepMonthly }, func(t time.Time) int64 { return int64(t.UTC().Year())*12 + int64(t.UTC().Month()) }},
	{func(p config.Policy) int { return p.KeepYearly }, func(t time.Time) int64 { return int64(t.UTC().Year()) }},
}

func days(t time.Time) int64 { return floorDiv(t.Unix(), 86400) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// points gathers, for one host, the periods that hold a snapshot among the
// complete periods its policy promises (the current one is not yet
// complete): at most the policy's counts, whatever the snapshots.
type points struct {
	policy config.Policy
	now    time.Time
	seen   []map[int64]bool // per period kind
	oldest time.Time
}

func newPoints(p config.Policy, now time.Time) *points {
	pt := &points{policy: p, now: now, seen: make([]map[int64]bool, len(periods))}
	for i := range periods {
		pt.seen[i] = map[int64]bool{}
	}
	return pt
}

func (pt *points) add(t time.Time) {
	if pt.oldest.IsZero() || t.Before(pt.oldest) {
		pt.oldest = t
	}
	for i, k := range periods {
		keep := int64(k.keep(pt.policy))
		cur, idx := k.index(pt.now), k.index(t)
		if keep > 0 && idx < cur && idx >= cur-keep {
			pt.seen[i][idx] = true
		}
	}
}

// missing is how many promised restore points are absent: for each period
// kind, the complete periods since the host's oldest snapshot's (at most
// the policy's count) without a snapshot. A new host is promised only the
// periods it has lived.
func (pt *points) missing() int64 {
	if pt.oldest.IsZero() {
		return 0 // no snapshot at all: BackupRepositoryDisagrees' business
	}
	var n int64
	for i, k := range periods {
		keep := int64(k.keep(pt.policy))
		promised := min(keep, k.index(pt.now)-k.index(pt.oldest))
		if promised > 0 {
			n += max(promised-int64(len(pt.seen[i])), 0)
		}
	}
	return n
}

// allowed is the snapshots beyond which forget is plainly not running:
// twice what the policy can keep, so that the backups made between two
// runs of forget never count.
func allowed(p config.Policy) int64 { return 2 * int64(p.Kept()) }
