// Package spool keeps results that could not be written to the store in a
// durable local directory, one file per result, and delivers them later in
// the order they were produced, per store key: what waits for one key
// never holds up another.
package spool

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	"github.com/golemtrust/backupwatch/internal/fileowner"
	"github.com/golemtrust/backupwatch/internal/lockfile"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
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

// Entry is one result waiting for delivery: a backup result or a restore test.
type Entry struct {
	Result      *status.Result
	RestoreTest *status.RestoreTest
}

// String describes the entry for messages, never with its free text.
func (e Entry) String() string {
	switch {
	case e.Result != nil && e.Result.Outcome == "":
		return fmt.Sprintf("attempt of %s at %s", status.Name(e.Result.Host, e.Result.Job), status.FormatTime(e.Result.At))
	case e.Result != nil:
		return fmt.Sprintf("%s result of %s at %s", e.Result.Outcome, status.Name(e.Result.Host, e.Result.Job), status.FormatTime(e.Result.At))
	case e.RestoreTest != nil && e.RestoreTest.Job != "":
		return fmt.Sprintf("%s restore test (job %s) at %s", e.RestoreTest.Result, e.RestoreTest.Job, status.FormatTime(e.RestoreTest.LastTest))
	case e.RestoreTest != nil:
		return fmt.Sprintf("%s restore test at %s", e.RestoreTest.Result, status.FormatTime(e.RestoreTest.LastTest))
	}
	return "empty entry"
}

// Key is the store key the entry is written to: its host's (or job's), or
// the restore test's key.
func (e Entry) Key() string {
	switch {
	case e.Result != nil:
		return e.Result.Key()
	case e.RestoreTest != nil:
		return e.RestoreTest.Key()
	}
	return status.RestoreTestKey
}

// At is when the result or restore test happened.
func (e Entry) At() time.Time {
	switch {
	case e.Result != nil:
		return e.Result.At
	case e.RestoreTest != nil:
		return e.RestoreTest.LastTest
	}
	return time.Time{}
}

// Kind names the entry's kind as its file does: result, attempt or
// restore_test.
func (e Entry) Kind() string {
	switch {
	case e.Result != nil && e.Result.Outcome == "":
		return "attempt"
	case e.Result != nil:
		return "result"
	}
	return "restore_test"
}

// record is an entry as stored on disk. Its form is versioned and
// independent of the Go types, so that an upgrade can read what an older
// binary spooled.
type record struct {
	Version   int    `json:"version"`
	Kind      string `json:"kind"` // "result" or "restore_test"
	SpooledAt string `json:"spooled_at"`

	Host     string            `json:"host,omitempty"`
	Job      string            `json:"job,omitempty"`     // results and restore tests; "" for the runbook's record
	Outcome  string            `json:"outcome,omitempty"` // "" is an attempt
	At       string            `json:"at,omitempty"`
	ExitCode *int64            `json:"exit_code,omitempty"`
	Duration *float64          `json:"duration_seconds,omitempty"`
	Message  string            `json:"message,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`

	Schedule     string   `json:"schedule,omitempty"` // as the record holds it (status.FieldSchedule)
	ScheduleTZ   string   `json:"schedule_tz,omitempty"`
	GraceSeconds *float64 `json:"grace_seconds,omitempty"`

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
		r.Job = res.Job
		if s := res.Schedule; s != nil {
			g := s.Grace.Seconds()
			r.Schedule, r.ScheduleTZ, r.GraceSeconds = s.Field(), s.TZ, &g
		}
	case e.RestoreTest != nil && e.Result == nil:
		rt := e.RestoreTest
		r.Kind, r.LastTest, r.Result, r.HostTested = "restore_test", rt.LastTest.UTC().Format(time.RFC3339Nano), rt.Result, rt.HostTested
		r.Job = rt.Job
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

// decode reads an entry and when it was spooled (zero if not said).
func decode(b []byte) (Entry, time.Time, error) {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Entry{}, time.Time{}, fmt.Errorf("not a spool entry: %w", err)
	}
	if dec.More() {
		return Entry{}, time.Time{}, errors.New("not a spool entry: trailing data")
	}
	if err := validate(r); err != nil {
		return Entry{}, time.Time{}, err
	}
	spooledAt, _ := time.Parse(time.RFC3339Nano, r.SpooledAt)
	switch r.Kind {
	case "result":
		at, _ := time.Parse(time.RFC3339Nano, r.At)
		sched, _ := recordSchedule(r) // validated above
		return Entry{Result: &status.Result{
			Host: r.Host, Job: r.Job, Outcome: r.Outcome, At: at, ExitCode: r.ExitCode,
			Duration: r.Duration, Message: r.Message, Extra: r.Extra, Schedule: sched,
		}}, spooledAt, nil
	default:
		at, _ := time.Parse(time.RFC3339Nano, r.LastTest)
		return Entry{RestoreTest: &status.RestoreTest{
			Job: r.Job, LastTest: at, Result: r.Result, HostTested: r.HostTested,
			TimeToRestoreMinutes: r.TimeToRestoreMinutes, Notes: r.Notes,
		}}, spooledAt, nil
	}
}

// recordSchedule is the schedule a spooled result carries; nil when none.
func recordSchedule(r record) (*schedule.Schedule, error) {
	if r.Schedule == "" {
		if r.ScheduleTZ != "" || r.GraceSeconds != nil {
			return nil, errors.New("schedule_tz or grace_seconds without a schedule")
		}
		return nil, nil
	}
	grace := time.Duration(-1)
	if r.GraceSeconds != nil {
		g, err := schedule.ParseGraceSeconds(fmt.Sprint(*r.GraceSeconds))
		if err != nil {
			return nil, err
		}
		grace = g
	}
	s, err := schedule.Parse(r.Schedule, r.ScheduleTZ, grace)
	if err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	return &s, nil
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
		if r.Job != "" {
			if err := status.ValidateJob(r.Job); err != nil {
				return err
			}
		}
		if _, err := recordSchedule(r); err != nil {
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
		if r.Job != "" {
			if err := status.ValidateJob(r.Job); err != nil {
				return err
			}
		}
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
		items = append(items, e)
	}
	return items, problems, nil
}

// Rejected returns the entries set aside as refused for good, oldest
// first; files there that are not entries are skipped.
func (s *Spool) Rejected() ([]Item, error) {
	dir := filepath.Join(s.dir, rejectedDir)
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var items []Item
	for _, de := range des {
		if !de.Type().IsRegular() || !isEntryName(de.Name()) {
			continue
		}
		if it, err := s.read(filepath.Join(rejectedDir, de.Name())); err == nil {
			it.Name = de.Name()
			items = append(items, it)
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	return items, nil
}

// errSymlink is openNoFollow's refusal of a symlink.
var errSymlink = errors.New("is a symlink")

// corruptError is a file that is not an entry, as opposed to one that
// could not be read.
type corruptError struct{ err error }

func (c corruptError) Error() string { return c.err.Error() }

func (s *Spool) read(name string) (Item, error) {
	// O_NOFOLLOW: a file swapped for a symlink after the listing is not
	// followed either.
	f, err := s.open(filepath.Join(s.dir, name))
	if errors.Is(err, errSymlink) {
		return Item{}, corruptError{errors.New("is a symlink")}
	}
	if err != nil {
		return Item{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Item{}, err
	}
	if !fi.Mode().IsRegular() {
		return Item{}, corruptError{errors.New("not a regular file")}
	}
	if fi.Size() > maxEntrySize {
		return Item{}, corruptError{fmt.Errorf("%d bytes, more than an entry can be", fi.Size())}
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return Item{}, err
	}
	e, spooledAt, err := decode(b)
	if err != nil {
		return Item{}, corruptError{err}
	}
	return Item{Name: name, Entry: e, SpooledAt: spooledAt}, nil
}

func (s *Spool) setAside(name string, cause error) Problem {
	dst := filepath.Join(corruptDir, name)
	os.Mkdir(filepath.Join(s.dir, corruptDir), 0o700)
	if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, dst)); err != nil {
		return Problem{Name: name, Err: cause}
	}
	return Problem{Name: name, Moved: dst, Err: cause}
}

// Reject moves an entry the store refuses for good to rejected/, beside
// a file saying why, so that it no longer waits and an operator can see
// it. It returns where the entry went.
func (s *Spool) Reject(name string, cause error) (string, error) {
	if !isEntryName(name) || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("reject %q: not a spool entry name", name)
	}
	dir := filepath.Join(s.dir, rejectedDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("set aside refused spool entry: %w", err)
	}
	dst := filepath.Join(rejectedDir, name)
	if err := os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, dst)); err != nil {
		return "", fmt.Errorf("set aside refused spool entry: %w", err)
	}
	// The reason is for the operator; losing it loses nothing else.
	atomicfile.Write(filepath.Join(dir, strings.TrimSuffix(name, ext)+".reason"), []byte(cause.Error()+"\n"), 0o600)
	return dst, nil
}

// ErrNoEntry means no waiting or rejected entry has the ID given.
var ErrNoEntry = errors.New("no such spool entry")

// Discard removes the entry with the given ID (Item.ID, or its file name)
// from those waiting or, failing that, from rejected/, and returns it. The
// caller holds the lock, so that no flush delivers it meanwhile.
func (s *Spool) Discard(id string) (Item, error) {
	name := strings.TrimSuffix(id, ext) + ext
	if !isEntryName(name) || strings.ContainsAny(name, "/\x00") || name == ext {
		return Item{}, fmt.Errorf("%w: %q is not a spool entry ID", ErrNoEntry, status.Truncate(id, 80))
	}
	for _, rel := range []string{name, filepath.Join(rejectedDir, name)} {
		it, err := s.read(rel)
		var bad corruptError
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil && !errors.As(err, &bad):
			return Item{}, fmt.Errorf("discard %s: %w", rel, err)
		}
		it.Name = name
		if err := os.Remove(filepath.Join(s.dir, rel)); err != nil {
			return Item{}, fmt.Errorf("discard %s: %w", rel, err)
		}
		if rel != name {
			os.Remove(filepath.Join(s.dir, rejectedDir, strings.TrimSuffix(name, ext)+".reason"))
		}
		return it, nil
	}
	return Item{}, fmt.Errorf("%w %q in %s", ErrNoEntry, status.Truncate(id, 80), s.dir)
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
	unlock, err = lockfile.Lock(ctx, filepath.Join(s.dir, lockName))
	if errors.Is(err, lockfile.ErrHeld) {
		return nil, fmt.Errorf("lock spool %s: another backupwatch is delivering: %w", s.dir, err)
	}
	return unlock, err
}

// LockKey serialises the writers of one store key on this machine, which
// KV v1 needs: it has no check-and-set, so two read-modify-writes of one
// record at once lose one of them. The lock is a file per key under
// locks/, waited for until ctx is done. Writers on other machines are not
// serialised by it.
func (s *Spool) LockKey(ctx context.Context, key string) (unlock func(), err error) {
	if err := s.create(); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.dir, keyLockDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	return lockfile.Lock(ctx, filepath.Join(dir, keyFileName(key)+".lock"))
}

// keyFileName is a file name for a store key: the key itself when it is a
// plain host name (as ValidateHost makes it), else a digest.
func keyFileName(key string) string {
	if key == status.RestoreTestKey || (status.ValidateHost(key) == nil && !strings.HasPrefix(key, ".")) {
		return key
	}
	return fmt.Sprintf("key-%x", sha256.Sum256([]byte(key)))[:40]
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

// Verdict sorts a failed delivery by what it means for what waits.
type Verdict int

const (
	// Later: the store cannot take this entry for now. It and the later
	// entries of its key keep waiting; other keys go on.
	Later Verdict = iota
	// Down: the store cannot take anything for now (unreachable, sealed):
	// nothing more is tried in this flush.
	Down
	// Refused: the store refuses this entry for good. It is set aside in
	// rejected/ and the next entry of its key goes on.
	Refused
)

// FlushOptions say how to deliver.
type FlushOptions struct {
	Retry   Retry
	Deliver func(ctx context.Context, e Entry) error
	// Classify sorts a delivery error; nil makes every error Later.
	Classify func(error) Verdict
}

// Rejection is an entry the store refused for good, set aside.
type Rejection struct {
	Item  Item
	Moved string // where it went, empty if it could not be moved
	Err   error  // why the store refused it
}

// FlushResult says what a flush did.
type FlushResult struct {
	Delivered []Item
	Rejected  []Rejection
	Problems  []Problem        // files set aside as not entries
	Waiting   map[string]int   // entries still waiting, per key
	KeyErr    map[string]error // why, per key
	Remaining int              // entries still waiting in all
	// Halted: the flush stopped (the store was down, the spool could not
	// be read): nothing after that point was tried.
	Halted bool
	Err    error // why entries still wait (the first such error)
}

// Waits reports whether entries of key still wait after the flush, so
// that a newer result of that key must queue behind them.
func (fr FlushResult) Waits(key string) bool { return fr.Halted || fr.Waiting[key] > 0 }

// Flush delivers the pending entries with o.Deliver, retrying each as
// o.Retry says, and removes each once delivered. Within one key, entries
// go in the order they were added and none overtakes an older one that
// must wait; one key waiting never holds up another. The caller holds the
// lock.
func (s *Spool) Flush(ctx context.Context, o FlushOptions) FlushResult {
	classify := o.Classify
	if classify == nil {
		classify = func(error) Verdict { return Later }
	}
	r := o.Retry
	if r.Retryable == nil {
		r.Retryable = func(err error) bool { return classify(err) != Refused }
	}
	items, problems, err := s.Pending()
	fr := FlushResult{Problems: problems, Waiting: map[string]int{}, KeyErr: map[string]error{}}
	if err != nil {
		// A file that could not be read keeps its turn: whatever its key,
		// nothing may overtake it.
		fr.Err, fr.Halted = err, true
		return fr
	}
	wait := func(it Item, err error) {
		k := it.Entry.Key()
		fr.Waiting[k]++
		fr.Remaining++
		if err != nil && fr.KeyErr[k] == nil {
			fr.KeyErr[k] = err
		}
		if fr.Err == nil && err != nil {
			fr.Err = err
		}
	}
	for _, it := range items {
		if fr.Halted || fr.Waiting[it.Entry.Key()] > 0 {
			wait(it, fr.Err)
			continue
		}
		err := r.Try(ctx, func(ctx context.Context) error { return o.Deliver(ctx, it.Entry) })
		if err == nil {
			fr.Delivered = append(fr.Delivered, it)
			if err := s.Remove(it.Name); err != nil {
				// Delivered but still there: delivering it again later is
				// harmless (the merge is idempotent), but its key waits.
				wait(it, err)
			}
			continue
		}
		err = fmt.Errorf("deliver %s: %w", it.Entry, err)
		switch classify(err) {
		case Refused:
			moved, merr := s.Reject(it.Name, err)
			fr.Rejected = append(fr.Rejected, Rejection{Item: it, Moved: moved, Err: err})
			if merr != nil {
				wait(it, merr) // still there: it must not be overtaken
			}
		case Down:
			fr.Halted = true
			wait(it, err)
		default:
			wait(it, err)
		}
		if ctx.Err() != nil {
			fr.Halted = true
		}
	}
	return fr
}

// Waiting is the number of entries waiting and when the oldest was
// added, from the file names alone (no entry is read).
func (s *Spool) Waiting() (n int, oldest time.Time, err error) {
	des, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	first := ""
	for _, de := range des {
		if !de.IsDir() && isEntryName(de.Name()) {
			n++
			if first == "" || de.Name() < first {
				first = de.Name()
			}
		}
	}
	if stamp, ok := nameStamp(first); ok {
		oldest = time.Unix(0, stamp)
	}
	return n, oldest, nil
}

// nameStamp is the time in nanoseconds an entry's name begins with.
func nameStamp(name string) (int64, bool) {
	digits, _, ok := strings.Cut(name, "-")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n > 0
}

// RejectedCount is the number of entries set aside as refused for good.
func (s *Spool) RejectedCount() (int, error) {
	des, err := os.ReadDir(filepath.Join(s.dir, rejectedDir))
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
