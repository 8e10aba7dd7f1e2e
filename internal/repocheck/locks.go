package repocheck

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Record fields of the repository's locks, read at each check and never
// removed: a lock may be a running prune's, and removing a live lock
// corrupts a repository. Only its holder or a person may remove it.
const (
	FieldLocksExclusive = "locks_exclusive" // how many exclusive locks
	FieldLocksShared    = "locks_shared"    // how many non-exclusive locks
	FieldLocksUnread    = "locks_unread"    // listed but not read (beyond MaxLocksRead, or gone meanwhile)
	FieldOldestLocks    = "oldest_locks"    // "exclusive"/"shared" -> {time, host, pid}
	FieldLocksMessage   = "locks_message"   // why the locks could not be listed
	FieldLockTime       = "time"
	FieldLockHost       = "host"
	FieldLockPID        = "pid"
)

// MaxLocksRead bounds the locks read at one check (one restic cat lock
// each); the others are counted as unread.
const MaxLocksRead = 50

// LockView is one lock as recorded: the oldest of its kind.
type LockView struct {
	Time time.Time // its holder's last refresh (restic refreshes a live lock every 5 minutes)
	Host string    // its holder's host name, "invalid-hostname" when it is none
	PID  int
}

// Locks is what a check found of the repository's locks.
type Locks struct {
	Exclusive, Shared int
	Unread            int
	OldestExclusive   *LockView
	OldestShared      *LockView
}

// readLocks lists and reads the repository's locks.
func readLocks(ctx context.Context, repo restic.Repo, call func(func(context.Context) error) error) (Locks, error) {
	var (
		ids   []string
		total int
		out   Locks
	)
	if err := call(func(ctx context.Context) (err error) {
		ids, total, err = repo.LockIDs(ctx, MaxLocksRead)
		return err
	}); err != nil {
		return Locks{}, err
	}
	out.Unread = total - len(ids)
	for _, id := range ids {
		var l restic.Lock
		if err := call(func(ctx context.Context) (err error) {
			l, err = repo.Lock(ctx, id)
			return err
		}); err != nil {
			if ctx.Err() != nil {
				return Locks{}, err
			}
			out.Unread++ // removed since listed, most often: its holder finished
			continue
		}
		host := l.Hostname
		if status.ValidateHost(host) != nil {
			host = "invalid-hostname"
		}
		v := &LockView{Time: l.Time, Host: host, PID: max(l.PID, 0)}
		oldest := &out.OldestShared
		out.Shared++
		if l.Exclusive {
			oldest = &out.OldestExclusive
			out.Shared--
			out.Exclusive++
		}
		if *oldest == nil || v.Time.Before((*oldest).Time) {
			*oldest = v
		}
	}
	return out, nil
}

// applyLocks writes what res found of the locks into doc.
func applyLocks(doc map[string]any, res Result) {
	for _, f := range []string{FieldLocksExclusive, FieldLocksShared, FieldLocksUnread, FieldOldestLocks, FieldLocksMessage} {
		delete(doc, f)
	}
	if res.LocksErr != nil {
		doc[FieldLocksMessage] = status.Truncate(oneLine(res.LocksErr.Error()), 500)
		return
	}
	if res.Locks == nil {
		return
	}
	l := res.Locks
	doc[FieldLocksExclusive] = strconv.Itoa(l.Exclusive)
	doc[FieldLocksShared] = strconv.Itoa(l.Shared)
	doc[FieldLocksUnread] = strconv.Itoa(l.Unread)
	oldest := map[string]any{}
	for kind, v := range map[string]*LockView{"exclusive": l.OldestExclusive, "shared": l.OldestShared} {
		if v != nil {
			oldest[kind] = map[string]any{FieldLockTime: status.FormatTime(v.Time), FieldLockHost: v.Host, FieldLockPID: strconv.Itoa(v.PID)}
		}
	}
	doc[FieldOldestLocks] = oldest
}

// parseLocks reads the locks of a record; nil when none were recorded.
func parseLocks(data map[string]any, problem func(string)) (*Locks, string) {
	msg := status.Truncate(str(data[FieldLocksMessage]), 1024)
	ex, err1 := count(data[FieldLocksExclusive])
	sh, err2 := count(data[FieldLocksShared])
	if err1 != nil || err2 != nil {
		problem(fmt.Sprintf("%s/%s: not counts", FieldLocksExclusive, FieldLocksShared))
		return nil, msg
	}
	if ex == nil || sh == nil {
		return nil, msg
	}
	l := &Locks{Exclusive: int(min(*ex, 1<<30)), Shared: int(min(*sh, 1<<30))}
	if n, err := count(data[FieldLocksUnread]); err == nil && n != nil {
		l.Unread = int(min(*n, 1<<30))
	}
	oldest, _ := data[FieldOldestLocks].(map[string]any)
	for kind, dst := range map[string]**LockView{"exclusive": &l.OldestExclusive, "shared": &l.OldestShared} {
		e, ok := oldest[kind].(map[string]any)
		if !ok {
			continue
		}
		t, err := status.ParseTime(str(e[FieldLockTime]))
		if err != nil {
			problem(fmt.Sprintf("%s.%s.%s: %v", FieldOldestLocks, kind, FieldLockTime, err))
			continue
		}
		host := str(e[FieldLockHost])
		if status.ValidateHost(host) != nil {
			host = "invalid-hostname"
		}
		pid, _ := count(e[FieldLockPID])
		v := &LockView{Time: t, Host: host}
		if pid != nil && *pid < 1<<31 {
			v.PID = int(*pid)
		}
		*dst = v
	}
	return l, msg
}
