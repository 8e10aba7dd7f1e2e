// Package spool keeps results that could not be written to the store in a
// durable local directory, one file per result, and delivers them later in
// the order they were produced, per store key: what waits for one key
// never holds up another.
package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
	"github.com/golemtrust/backupwatch/internal/fileowner"
)

const (
	ext         = ".json"
	corruptDir  = "corrupt"
	rejectedDir = "rejected"
	keyLockDir  = "locks"
	lockName    = ".lock"
	version     = 1
	// maxEntrySize bounds what is read from one file: a result is small,
	// anything bigger is not one of ours.
	maxEntrySize = 1 << 20
	maxText      = 8 << 10 // message or notes kept in an entry
	maxExtra     = 32      // extra fields of a result
)

// Spool is a spool directory.
type Spool struct {
	dir  string
	now  func() time.Time
	open func(name string) (*os.File, error) // openNoFollow; tests fail it

	mu   sync.Mutex
	last int64 // last name stamp used by this process
	seq  uint64
}

// Open returns the spool in dir. The directory is created when the first
// entry is added or a lock taken (a key's lock, by every write to Vault).
func Open(dir string) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("open spool: no directory")
	}
	return &Spool{dir: dir, now: time.Now, open: openNoFollow}, nil
}

func (s *Spool) create() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("create spool: %w", err)
	}
	return s.checkPerm()
}

// checkPerm refuses a spool others may write to: whoever can add a file
// to it can have a result written to the store. That includes another
// user who made the directory first.
func (s *Spool) checkPerm() error {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if perm := fi.Mode().Perm(); fileowner.OpenToOthers(fi) {
		return fmt.Errorf("spool %s is writable by group or others (mode %04o): chmod 700 it", s.dir, perm)
	}
	if uid, other := fileowner.Other(fi); other {
		return fmt.Errorf("spool %s belongs to uid %d, not to this user (uid %d): chown it, or remove it", s.dir, uid, os.Geteuid())
	}
	return nil
}

// Dir is the spool directory.
func (s *Spool) Dir() string { return s.dir }

// Item is an entry read back from the spool.
type Item struct {
	Name      string // file name, which orders the items
	Entry     Entry
	SpooledAt time.Time // when it was added; zero if its file does not say
}

// ID is how an operator names the item (flush --discard): its file name
// without the extension.
func (it Item) ID() string { return strings.TrimSuffix(it.Name, ext) }

// ErrFull means the spool's file system has no room left.
var ErrFull = errors.New("spool is full")

// Add writes e as a new file, fsynced, and returns its name. Names sort in
// the order entries were added: the time in nanoseconds, then the process
// and a sequence number.
func (s *Spool) Add(e Entry) (string, error) {
	now := s.now()
	b, err := encode(e, now)
	if err != nil {
		return "", fmt.Errorf("spool %s: %w", e, err)
	}
	s.mu.Lock()
	stamp := now.UnixNano()
	if stamp <= s.last {
		stamp = s.last + 1
	}
	s.last = stamp
	s.seq++
	name := fmt.Sprintf("%020d-%07d-%06d%s", stamp, os.Getpid(), s.seq, ext)
	s.mu.Unlock()
	err = s.create()
	if err == nil {
		err = atomicfile.Write(filepath.Join(s.dir, name), b, 0o600)
	}
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return "", fmt.Errorf("spool %s in %s: %w (no space left on the device)", e, s.dir, ErrFull)
		}
		return "", fmt.Errorf("spool %s in %s: %w", e, s.dir, err)
	}
	return name, nil
}
