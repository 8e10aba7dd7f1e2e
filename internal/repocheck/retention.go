package repocheck

import (
	"time"

	"github.com/golemtrust/backupwatch/internal/config"
)

// Record fields of a host's retention, for hosts with a policy.
const (
	FieldPointsMissing    = "restore_points_missing" // restore points the policy promises that the repository lacks
	FieldSnapshotsAllowed = "snapshots_allowed"      // more than this: forget is not running
	// FieldOldestBeyond is "1" when the part's oldest snapshot is one that
	// forget would remove even with a policy twice as generous (forget is
	// not running, or with another policy), "0" when it is kept.
	FieldOldestBeyond = "oldest_beyond_policy"
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
	// For beyond: the snapshots, and per period kind the distinct periods
	// holding one (at most twice the policy's count and one: enough to
	// know there are more), the oldest snapshot's period and how many
	// snapshots it holds.
	total     int64
	buckets   []map[int64]struct{}
	oldestIdx []int64
	oldestN   []int64
}

func newPoints(p config.Policy, now time.Time) *points {
	pt := &points{policy: p, now: now, seen: make([]map[int64]bool, len(periods)),
		buckets: make([]map[int64]struct{}, len(periods)), oldestIdx: make([]int64, len(periods)), oldestN: make([]int64, len(periods))}
	for i := range periods {
		pt.seen[i] = map[int64]bool{}
		pt.buckets[i] = map[int64]struct{}{}
	}
	return pt
}

func (pt *points) add(t time.Time) {
	first := pt.total == 0
	pt.total++
	if pt.oldest.IsZero() || t.Before(pt.oldest) {
		pt.oldest = t
	}
	for i, k := range periods {
		keep := int64(k.keep(pt.policy))
		cur, idx := k.index(pt.now), k.index(t)
		if keep > 0 && idx < cur && idx >= cur-keep {
			pt.seen[i][idx] = true
		}
		if keep > 0 && int64(len(pt.buckets[i])) <= 2*keep {
			pt.buckets[i][idx] = struct{}{}
		}
		switch {
		case first || idx < pt.oldestIdx[i]:
			pt.oldestIdx[i], pt.oldestN[i] = idx, 1
		case idx == pt.oldestIdx[i]:
			pt.oldestN[i]++
		}
	}
}

// beyond says whether the part's oldest snapshot is one that restic forget,
// run with the policy's counts doubled (the slack allowed's count has: the
// backups made between two runs of forget never count), would remove. forget
// keeps the newest snapshot of each of the newest keep-daily days that hold
// one (and so on for each period), and the keep-last newest: the oldest is
// kept by a period only when it is alone in its period and that period is
// among the newest 2×keep holding a snapshot. A part whose backups stopped
// keeps its last snapshots (forget counts periods with a snapshot, not
// calendar periods), and nothing here fires for it.
func (pt *points) beyond() bool {
	if pt.total == 0 {
		return false
	}
	if n := int64(pt.policy.KeepLast); n > 0 && pt.total <= 2*n {
		return false
	}
	for i, k := range periods {
		keep := int64(k.keep(pt.policy))
		if keep > 0 && pt.oldestN[i] == 1 && int64(len(pt.buckets[i])) <= 2*keep {
			return false
		}
	}
	return true
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
