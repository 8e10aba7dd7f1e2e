package schedule

import (
	"fmt"
	"sync"
	"time"
)

// Where checkGaps looks for the longest gap between two firings: four
// years and two months, so that every leap day and clock change of a zone
// is in it (a day-of-month and day-of-week pattern repeats within them, or
// robfig/cron's five-year search finds it never fires).
var (
	gapFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gapTo   = time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
)

// gapStep is how far the search skips ahead where firings are close (an
// expression that fires every minute has two million firings in the
// window); a gap that looks long after a skip is measured exactly.
const gapStep = 24 * time.Hour

// gapCache remembers the verdict of each expression and zone: records are
// parsed at every refresh, and a fleet has few distinct schedules. It is
// bounded, so records with made-up expressions cannot grow it.
var gapCache = struct {
	sync.Mutex
	m map[[2]string]error
}{m: map[[2]string]error{}}

const maxGapCache = 1024

// checkGaps refuses a cron schedule with a gap longer than MaxEvery
// between two firings ("0 0 29 2 *", @yearly, "0 0 31 * *"): it would
// claim, for its host, that no backup is due for that long.
func checkGaps(s Schedule) error {
	key := [2]string{s.Cron, s.TZ}
	gapCache.Lock()
	err, ok := gapCache.m[key]
	gapCache.Unlock()
	if ok {
		return err
	}
	err = longestGap(s)
	gapCache.Lock()
	if len(gapCache.m) < maxGapCache {
		gapCache.m[key] = err
	}
	gapCache.Unlock()
	return err
}

func longestGap(s Schedule) error {
	for t := gapFrom; t.Before(gapTo); {
		n := s.next(t)
		if !n.IsZero() && n.Sub(t) < gapStep {
			t = t.Add(gapStep) // skip ahead: a gap begins at or after t
			continue
		}
		if n.IsZero() || n.Sub(t) > MaxEvery-gapStep {
			// t may lie up to gapStep after the last firing: find it.
			last := t.Add(-gapStep)
			for f := s.next(last); !f.IsZero() && !f.After(t); f = s.next(f) {
				last = f
			}
			if n.IsZero() || n.Sub(last) > MaxEvery {
				return gapError(last, n)
			}
		}
		t = n
	}
	return nil
}

func gapError(from, to time.Time) error {
	gap, end := "more than 5 years", "never again"
	if !to.IsZero() {
		gap, end = FormatDuration(to.Sub(from).Round(time.Hour)), to.Format(time.DateOnly)
	}
	return fmt.Errorf("goes %s without firing (%s to %s), longer than %d days, the longest schedule watched: give a schedule that fires at least monthly", gap, from.Format(time.DateOnly), end, MaxEvery/(24*time.Hour))
}
