// Package localstore is the embedded record store: one JSON document per
// key in a directory, written atomically and safe for concurrent writers,
// with the same semantics as the Vault KV store.
package localstore

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
	"syscall"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
	"github.com/golemtrust/backupwatch/internal/status"
)

const ext = ".json"

// Store keeps records under Dir.
type Store struct {
	dir string
}

// Open creates dir if needed and returns a store on it.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open local store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// String names the store in messages.
func (s *Store) String() string { return "local store " + s.dir }

// path is the file of key: <dir>/<key>.json, or <dir>/jobs/<name>.json
// for a job's key (status.Key), the one folder the store has.
func (s *Store) path(key string) (string, error) {
	dir, name := s.dir, key
	if n, ok := strings.CutPrefix(key, status.JobsFolder+"/"); ok {
		dir, name = filepath.Join(s.dir, status.JobsFolder), n
	}
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("invalid key %q", status.Truncate(key, 80))
	}
	return filepath.Join(dir, name+ext), nil
}

// List returns the keys that have a record, sorted, and "jobs/" when
// there are job records (as Vault lists a folder).
func (s *Store) List(ctx context.Context) ([]string, error) { return s.ListFolder(ctx, "") }

// ListFolder returns the keys in folder ("" or status.JobsFolder), sorted;
// none when it does not exist.
func (s *Store) ListFolder(ctx context.Context, folder string) ([]string, error) {
	dir := s.dir
	switch folder {
	case "":
	case status.JobsFolder:
		dir = filepath.Join(s.dir, status.JobsFolder)
	default:
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if folder != "" && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.Type().IsRegular() && strings.HasSuffix(name, ext) && !strings.HasPrefix(name, "."):
			keys = append(keys, strings.TrimSuffix(name, ext))
		case folder == "" && e.IsDir() && name == status.JobsFolder:
			keys = append(keys, name+"/")
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Get reads the record at key, or status.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (map[string]any, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, status.ErrMalformed)
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", key, status.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return decode(key, b)
}

func decode(key string, b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read %s: %w: not a JSON object: %v", key, status.ErrMalformed, err)
	}
	return doc, nil
}

// Update reads the record at key, passes it to fn (nil when there is none)
// and writes what fn returns when it asks to. Writers of the whole store are
// serialised by a lock file, so concurrent updates lose nothing.
func (s *Store) Update(ctx context.Context, key string, fn func(old map[string]any) (map[string]any, bool, error)) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	defer unlock()
	old, err := s.Get(ctx, key)
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return err
	}
	doc, write, err := fn(old)
	if err != nil || !write {
		return err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if err := atomicfile.Write(p, append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// Delete removes the record at key; a missing record is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	defer unlock()
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }
