package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
	"github.com/golemtrust/backupwatch/internal/status"
)

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
