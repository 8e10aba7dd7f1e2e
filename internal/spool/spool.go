// Package spool keeps results that could not be written to the store in a
// durable local directory, one file per result, and delivers them later in
// the order they were produced.
package spool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
	"github.com/golemtrust/backupwatch/internal/status"
)

const (
	ext        = ".json"
	corruptDir = "corrupt"
	lockName   = ".lock"
	version    = 1
	// maxEntrySize bounds what is read from one file: a result is small,
	// anything bigger is not one of ours.
	maxEntrySize = 1 << 20
	maxText      = 8 << 10 // message or notes kept in an entry
	maxExtra     = 32      // extra fields of a result
)

// Entry is one result waiting for delivery: a backup result or a restore test.
type Entry struct {
	Result      *status.Result
	RestoreTest *status.RestoreTest
}

// String describes the entry for messages, never with its free text.
func (e Entry) String() string {
	switch {
	case e.Result != nil && e.Result.Outcome == "":
		return fmt.Sprintf("attempt of %s at %s", e.Result.Host, status.FormatTime(e.Result.At))
	case e.Result != nil:
		return fmt.Sprintf("%s result of %s at %s", e.Result.Outcome, e.Result.Host, status.FormatTime(e.Result.At))
	case e.RestoreTest != nil:
		return fmt.Sprintf("%s restore test at %s", e.RestoreTest.Result, status.FormatTime(e.RestoreTest.LastTest))
	}
	return "empty entry"
}

// record is an entry as stored on disk. Its form is versioned and
// independent of the Go types, so that an upgrade can read what an older
// binary spooled.
type record struct {
	Version   int    `json:"version"`
	Kind      string `json:"kind"` // "result" or "restore_test"
	SpooledAt string `json:"spooled_at"`

	Host     string            `json:"host,omitempty"`
	Outcome  string            `json:"outcome,omitempty"` // "" is an attempt
	At       string            `json:"at,omitempty"`
	ExitCode *int64            `json:"exit_code,omitempty"`
	Duration *float64          `json:"duration_seconds,omitempty"`
	Message  string            `json:"message,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`

	LastTest             string   `json:"last_test,omitempty"`
	Result               string   `json:"result,omitempty"`
	HostTested           string   `json:"host_tested,omitempty"`
	TimeToRestoreMinutes *float64 `json:"time_to_restore_minutes,omitempty"`
	Notes                string   `json:"notes,omitempty"`
}

func encode(e Entry, now time.Time) ([]byte, error) {
	r := record{Version: version, SpooledAt: now.UTC().Format(time.RFC3339Nano)}
	// Free text is bounded here as the store bounds it, so that an entry
	// is always small enough to be read back.
	switch {
	case e.Result != nil && e.RestoreTest == nil:
		res := e.Result
		r.Kind, r.Host, r.Outcome, r.At = "result", res.Host, res.Outcome, res.At.UTC().Format(time.RFC3339Nano)
		r.ExitCode, r.Duration, r.Message, r.Extra = res.ExitCode, res.Duration, status.Truncate(res.Message, maxText), res.Extra
	case e.RestoreTest != nil && e.Result == nil:
		rt := e.RestoreTest
		r.Kind, r.LastTest, r.Result, r.HostTested = "restore_test", rt.LastTest.UTC().Format(time.RFC3339Nano), rt.Result, rt.HostTested
		r.TimeToRestoreMinutes, r.Notes = rt.TimeToRestoreMinutes, status.Truncate(rt.Notes, maxText)
	default:
		return nil, errors.New("an entry holds exactly one result or restore test")
	}
	if err := validate(r); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	return append(b, '\n'), err
}

func decode(b []byte) (Entry, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Entry{}, fmt.Errorf("not a spool entry: %w", err)
	}
	if dec.More() {
		return Entry{}, errors.New("not a spool entry: trailing data")
	}
	if err := validate(r); err != nil {
		return Entry{}, err
	}
	switch r.Kind {
	case "result":
		at, _ := time.Parse(time.RFC3339Nano, r.At)
		return Entry{Result: &status.Result{
			Host: r.Host, Outcome: r.Outcome, At: at, ExitCode: r.ExitCode,
			Duration: r.Duration, Message: r.Message, Extra: r.Extra,
		}}, nil
	default:
		at, _ := time.Parse(time.RFC3339Nano, r.LastTest)
		return Entry{RestoreTest: &status.RestoreTest{
			LastTest: at, Result: r.Result, HostTested: r.HostTested,
			TimeToRestoreMinutes: r.TimeToRestoreMinutes, Notes: r.Notes,
		}}, nil
	}
}

func validate(r record) error {
	if r.Version != version {
		return fmt.Errorf("spool entry version %d, want %d", r.Version, version)
	}
	switch r.Kind {
	case "result":
		if err := status.ValidateHost(r.Host); err != nil {
			return err
		}
		switch r.Outcome {
		case "", status.Success, status.Failed:
		default:
			return fmt.Errorf("outcome %q is not success, failed or empty", status.Truncate(r.Outcome, 32))
		}
		if len(r.Extra) > maxExtra {
			return fmt.Errorf("%d extra fields, more than %d", len(r.Extra), maxExtra)
		}
		for k, v := range r.Extra {
			if k == "" || len(k) > 64 || len(v) > 256 {
				return fmt.Errorf("extra field %q: name or value too long", status.Truncate(k, 32))
			}
		}
		return validTime("at", r.At)
	case "restore_test":
		if r.Result != status.Passed && r.Result != status.Failed {
			return fmt.Errorf("restore test result %q is not passed or failed", status.Truncate(r.Result, 32))
		}
		return validTime("last_test", r.LastTest)
	default:
		return fmt.Errorf("unknown kind %q", status.Truncate(r.Kind, 32))
	}
}

func validTime(field, s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1971 {
		return fmt.Errorf("%s: not a time: %q", field, status.Truncate(s, 40))
	}
	return nil
}

// Spool is a spool directory.
type Spool struct {
	dir  string
	now  func() time.Time
	open func(name string) (*os.File, error) // os.Open; tests fail it

	mu   sync.Mutex
	last int64 // last name stamp used by this process
	seq  uint64
}

// Open returns the spool in dir. The directory is created when the first
// entry is added (or the lock taken), so a host whose store never fails
// never has one.
func Open(dir string) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("open spool: no directory")
	}
	return &Spool{dir: dir, now: time.Now, open: os.Open}, nil
}

// Exists reports whether the spool directory exists: without it, nothing
// can be waiting.
func (s *Spool) Exists() bool {
	fi, err := os.Stat(s.dir)
	return err == nil && fi.IsDir()
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
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("spool %s is writable by group or others (mode %04o): chmod 700 it", s.dir, perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("spool %s belongs to uid %d, not to this user (uid %d): chown it, or remove it", s.dir, st.Uid, os.Geteuid())
	}
	return nil
}

// Dir is the spool directory.
func (s *Spool) Dir() string { return s.dir }

// Item is an entry read back from the spool.
type Item struct {
	Name  string // file name, which orders the items
	Entry Entry
}

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

// Problem is a spool file that could not be read and was set aside.
type Problem struct {
	Name  string
	Moved string // where it went, empty if it could not be moved
	Err   error
}

func (p Problem) Error() string {
	if p.Moved == "" {
		return fmt.Sprintf("spool file %s is unreadable and could not be set aside: %v", p.Name, p.Err)
	}
	return fmt.Sprintf("spool file %s is unreadable, set aside as %s: %v", p.Name, p.Moved, p.Err)
}

// Pending returns the entries waiting for delivery, oldest first. A file
// that cannot be read as an entry is moved to corrupt/ and reported; it
// never stops the others.
func (s *Spool) Pending() ([]Item, []Problem, error) {
	des, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read spool %s: %w", s.dir, err)
	}
	if err := s.checkPerm(); err != nil {
		return nil, nil, err
	}
	var names []string
	var problems []Problem
	for _, de := range des {
		n := de.Name()
		if !isEntryName(n) || de.IsDir() {
			continue
		}
		if !de.Type().IsRegular() {
			// Not opened: a FIFO would block, a symlink leads elsewhere.
			problems = append(problems, s.setAside(n, errors.New("not a regular file")))
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var items []Item
	for _, n := range names {
		e, err := s.read(n)
		var bad corruptError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // delivered by another process meanwhile
		case errors.As(err, &bad):
			problems = append(problems, s.setAside(n, bad.err))
			continue
		case err != nil:
			// Not the file's fault (too many open files, an I/O error):
			// it stays, and nothing after it overtakes it.
			return nil, problems, fmt.Errorf("read spool file %s (left in place): %w", filepath.Join(s.dir, n), err)
		}
		items = append(items, Item{Name: n, Entry: e})
	}
	return items, problems, nil
}

// corruptError is a file that is not an entry, as opposed to one that
// could not be read.
type corruptError struct{ err error }

func (c corruptError) Error() string { return c.err.Error() }

func (s *Spool) read(name string) (Entry, error) {
	f, err := s.open(filepath.Join(s.dir, name))
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, err
	}
	if !fi.Mode().IsRegular() {
		return Entry{}, corruptError{errors.New("not a regular file")}
	}
	if fi.Size() > maxEntrySize {
		return Entry{}, corruptError{fmt.Errorf("%d bytes, more than an entry can be", fi.Size())}
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return Entry{}, err
	}
	e, err := decode(b)
	if err != nil {
		return Entry{}, corruptError{err}
	}
	return e, nil
}

func (s *Spool) setAside(name string, cause error) Problem {
	dst := filepath.Join(corruptDir, name)
	os.Mkdir(filepath.Join(s.dir, corruptDir), 0o700)
	if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, dst)); err != nil {
		return Problem{Name: name, Err: cause}
	}
	return Problem{Name: name, Moved: dst, Err: cause}
}

// Remove deletes a delivered entry.
func (s *Spool) Remove(name string) error {
	if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove delivered spool file: %w", err)
	}
	return nil
}

// Lock serialises delivery between processes (and goroutines): whoever
// holds it delivers the pending entries before its own, so their order is
// kept. It waits for the lock until ctx is done.
func (s *Spool) Lock(ctx context.Context) (unlock func(), err error) {
	if err := s.create(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock spool: %w", err)
	}
	for delay := 5 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock spool: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock spool %s: another backupwatch is delivering: %w", s.dir, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// Retry says how hard to try one delivery.
type Retry struct {
	Attempts int           // at least 1
	Backoff  time.Duration // before the second attempt, doubled each time
	MaxDelay time.Duration // cap of the backoff; 0 is 30s
	// Retryable says whether an error is worth another attempt (a store
	// that is down is; a refusal is not); nil retries every error.
	Retryable func(error) bool
}

// Try calls f until it succeeds, Attempts times at most, sleeping between
// attempts. It returns the last error.
func (r Retry) Try(ctx context.Context, f func(ctx context.Context) error) error {
	delay, maxDelay := r.Backoff, r.MaxDelay
	if maxDelay <= 0 {
		maxDelay = 30 * time.Second
	}
	var err error
	for i := 0; i < max(r.Attempts, 1); i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(delay):
			}
			delay = min(delay*2, maxDelay)
		}
		if err = f(ctx); err == nil {
			return nil
		}
		if r.Retryable != nil && !r.Retryable(err) {
			return err
		}
	}
	return err
}

// FlushResult says what a flush did.
type FlushResult struct {
	Delivered []Item
	Remaining int       // entries still waiting
	Problems  []Problem // files set aside
	Err       error     // why delivery stopped, when Remaining > 0
}

// Flush delivers the pending entries in order with deliver, retrying each
// as r says, and removes each once delivered. It stops at the first entry
// that cannot be delivered, so that none overtakes an older one. The caller
// holds the lock.
func (s *Spool) Flush(ctx context.Context, r Retry, deliver func(ctx context.Context, e Entry) error) FlushResult {
	items, problems, err := s.Pending()
	fr := FlushResult{Problems: problems}
	if err != nil {
		fr.Err = err
		return fr
	}
	for i, it := range items {
		if err := r.Try(ctx, func(ctx context.Context) error { return deliver(ctx, it.Entry) }); err != nil {
			fr.Remaining = len(items) - i
			fr.Err = fmt.Errorf("deliver %s: %w", it.Entry, err)
			return fr
		}
		fr.Delivered = append(fr.Delivered, it)
		if err := s.Remove(it.Name); err != nil {
			// Delivered but still there: delivering it again later is
			// harmless (the merge is idempotent), but stop here.
			fr.Remaining = len(items) - i
			fr.Err = err
			return fr
		}
	}
	return fr
}

// Count is the number of entries waiting, without reading them.
func (s *Spool) Count() (int, error) {
	des, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, de := range des {
		if !de.IsDir() && isEntryName(de.Name()) {
			n++
		}
	}
	return n, nil
}

// isEntryName tells an entry's file from the lock, temporary files of
// interrupted writes and anything else.
func isEntryName(name string) bool {
	return !strings.HasPrefix(name, ".") && strings.HasSuffix(name, ext)
}
