package restic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Lock is a lock file of the repository as `restic cat lock` prints it.
type Lock struct {
	ID        string    `json:"-"`
	Time      time.Time `json:"time"` // when its holder created or last refreshed it
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username"`
	PID       int       `json:"pid"`
}

// LockIDs lists the ids of the repository's lock files (restic list
// locks), at most max of them; total is how many there are. It takes no
// lock of its own (--no-lock), so it never sees itself.
func (r Repo) LockIDs(ctx context.Context, max int) (ids []string, total int, err error) {
	var out bytes.Buffer
	if err := r.run(ctx, &limitWriter{w: &out, n: 16 << 20}, "list", "locks", "--no-lock"); err != nil {
		return nil, 0, err
	}
	for _, l := range strings.Fields(out.String()) {
		if len(l) != 64 || !isHex(l) {
			return nil, 0, fmt.Errorf("restic list locks: unexpected output %q", truncate(l, 80))
		}
		total++
		if len(ids) < max {
			ids = append(ids, l)
		}
	}
	return ids, total, nil
}

// Lock reads lock id (restic cat lock). A lock removed since it was listed
// (its holder finished) is an error like any other: the caller skips it.
func (r Repo) Lock(ctx context.Context, id string) (Lock, error) {
	var out bytes.Buffer
	if err := r.run(ctx, &limitWriter{w: &out, n: 64 << 10}, "cat", "lock", id, "--no-lock"); err != nil {
		return Lock{}, err
	}
	var l Lock
	if err := json.Unmarshal(out.Bytes(), &l); err != nil {
		return Lock{}, fmt.Errorf("restic cat lock %s: unexpected output: %w", truncate(id, 12), err)
	}
	l.ID = id
	return l, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
