// Package pause writes a host's or a job's pause (and its end) to the
// store, beside its record: what `pause` and `resume` do once their flags
// are read.
package pause

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Store is where pauses are written: both stores are one.
type Store interface {
	Update(ctx context.Context, key string, fn func(old map[string]any) (map[string]any, bool, error)) error
	String() string
}

// Until reads when a pause ends (a time, or a duration from now) and
// checks it is ahead, and not too far ahead unless forced.
func Until(s string, now time.Time, force bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty: give a time (RFC 3339) or a duration from now (2h)")
	}
	var until time.Time
	if d, err := schedule.ParseDuration(s); err == nil {
		until = now.Add(d)
	} else if until, err = status.ParseTime(s); err != nil {
		return time.Time{}, fmt.Errorf("%w: give a time (RFC 3339) or a duration from now (2h, 3d)", err)
	}
	if err := status.CheckPauseUntil(until, now, force); err != nil {
		return time.Time{}, err
	}
	return until, nil
}

// Set pauses host (job "" for every job) until then, for reason, and
// returns the pause it replaced, nil for none.
func Set(ctx context.Context, st Store, host, job string, until time.Time, reason string, now time.Time) (replaced *status.Pause, err error) {
	err = st.Update(ctx, status.PauseKey(host, job), func(old map[string]any) (map[string]any, bool, error) {
		if old != nil {
			p := status.ParsePause(host, job, old)
			replaced = &p
		}
		return map[string]any{
			status.FieldPausedUntil: status.FormatTime(until),
			status.FieldPauseReason: reason,
			status.FieldPausedAt:    status.FormatTime(now),
		}, true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pause %s: %w", status.Name(host, job), err)
	}
	return replaced, nil
}

// End ends host's (or job's) pause now, keeping it recorded as ended with
// its reason. ended says it had already ended (nothing written); a
// missing pause is an error.
func End(ctx context.Context, st Store, host, job string, now time.Time) (ended bool, err error) {
	errNoPause := fmt.Errorf("no pause of %s in %s: nothing to resume (`backupwatch status` shows the pauses)", status.Name(host, job), st.String())
	err = st.Update(ctx, status.PauseKey(host, job), func(old map[string]any) (map[string]any, bool, error) {
		if old == nil {
			return nil, false, errNoPause
		}
		if p := status.ParsePause(host, job, old); !p.Until.IsZero() && !p.Active(now) {
			ended = true
			return nil, false, nil
		}
		doc := make(map[string]any, len(old)+2)
		for k, v := range old {
			if !strings.HasPrefix(k, "\x00") { // a store's own additions (status.StoredAtKey)
				doc[k] = v
			}
		}
		doc[status.FieldPausedUntil] = status.FormatTime(now)
		doc[status.FieldResumedAt] = status.FormatTime(now)
		return doc, true, nil
	})
	switch {
	case errors.Is(err, errNoPause):
		return false, errNoPause
	case err != nil:
		return false, fmt.Errorf("resume %s: %w", status.Name(host, job), err)
	}
	return ended, nil
}
