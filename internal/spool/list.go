package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

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
func (s *Spool) Pending() ([]Item, []Problem, error) { return s.scan(true) }

// List returns what Pending does but changes nothing: a file that cannot
// be read as an entry is reported and left where it is (Problem.Moved is
// empty), for the next flush to set aside. It is for showing the spool.
func (s *Spool) List() ([]Item, []Problem, error) { return s.scan(false) }

// scan reads the waiting entries; setAside moves unreadable files to
// corrupt/.
func (s *Spool) scan(setAside bool) ([]Item, []Problem, error) {
	aside := func(name string, cause error) Problem {
		if !setAside {
			return Problem{Name: name, Err: cause}
		}
		return s.setAside(name, cause)
	}
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
			problems = append(problems, aside(n, errors.New("not a regular file")))
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
			problems = append(problems, aside(n, bad.err))
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

// corruptError is a file that is not an entry, as opposed to one that
// could not be read.
type corruptError struct{ err error }

func (c corruptError) Error() string { return c.err.Error() }

func (s *Spool) read(name string) (Item, error) {
	// O_NOFOLLOW: a file swapped for a symlink after the listing is not
	// followed either.
	f, err := s.open(filepath.Join(s.dir, name))
	if errors.Is(err, errSymlink) {
		return Item{}, corruptError{errSymlink}
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

// errSymlink is openNoFollow's refusal of a symlink.
var errSymlink = errors.New("is a symlink")

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
func (s *Spool) RejectedCount() (int, error) { return countEntries(filepath.Join(s.dir, rejectedDir)) }

// Count is the number of entries waiting, without reading them.
func (s *Spool) Count() (int, error) { return countEntries(s.dir) }

// countEntries counts the entries' files in dir, none when it does not
// exist.
func countEntries(dir string) (int, error) {
	des, err := os.ReadDir(dir)
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
