// Package localstore is the embedded record store: one JSON document per
// key in a directory, written atomically and safe for concurrent writers,
// with the same semantics as the Vault KV store.
package localstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/golemtrust/backupwatch/internal/lockfile"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

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

// path is the file of key: <dir>/<key>.json, or <dir>/<folder>/<name>.json
// for a key in one of the store's folders (a job's, status.Key; a
// pause's, status.PauseKey). A name too
// long for a file name (a host or job name may have 253 characters, a
// job's key twice that) is kept in a file named by its hash; long is then
// the name, which the file holds beside the record (see wrap).
func (s *Store) path(key string) (p, long string, err error) {
	if rec, kind, ok := status.SplitSideKey(key); ok && kind == status.SideLog {
		p, long, err := s.path(rec)
		return logPath(p), long, err
	}
	dir, name := s.dir, key
	for _, f := range folders {
		if n, ok := strings.CutPrefix(key, f+"/"); ok {
			dir, name = filepath.Join(s.dir, f), n
		}
	}
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." || strings.HasPrefix(name, ".") {
		return "", "", fmt.Errorf("invalid key %q", status.Truncate(key, 80))
	}
	if len(name)+len(ext) > maxFileName {
		sum := sha256.Sum256([]byte(name))
		return filepath.Join(dir, longPrefix+hex.EncodeToString(sum[:16])+ext), name, nil
	}
	return filepath.Join(dir, name+ext), "", nil
}

// folders are the store's folders beside the hosts' records.
var folders = []string{status.JobsFolder, status.PausesFolder}

// maxFileName bounds the file names the store makes: file systems allow
// 255 bytes, and atomicfile's temporary file beside it takes some more.
const maxFileName = 200

// longPrefix starts the file name of a long name: '~' is in no host or
// job name, so no other key's file can have it.
const longPrefix = "~"

// A long name's file holds the name beside the record, so that List can
// give it back.
const (
	fieldLongName   = "name"
	fieldLongRecord = "record"
)

// longName reads the name a long name's file holds; "" when it cannot.
func longName(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	var doc struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return ""
	}
	return doc.Name
}

// List returns the keys that have a record, sorted, and "jobs/" or
// "pauses/" when there are job records or pauses (as Vault lists a folder).
func (s *Store) List(ctx context.Context) ([]string, error) { return s.ListFolder(ctx, "") }

// ListFolder returns the keys in folder ("" or one of folders), sorted;
// none when it does not exist.
func (s *Store) ListFolder(ctx context.Context, folder string) ([]string, error) {
	dir := s.dir
	switch {
	case folder == "":
	case slices.Contains(folders, folder):
		dir = filepath.Join(s.dir, folder)
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
		case e.Type().IsRegular() && strings.HasSuffix(name, ext) && strings.HasPrefix(name, longPrefix):
			// A long name's file; one that does not say its name is
			// listed under its file name, so that it shows (unreadable)
			// rather than vanishes.
			if long := longName(filepath.Join(dir, name)); long != "" {
				keys = append(keys, long)
			} else {
				keys = append(keys, strings.TrimSuffix(name, ext))
			}
		case e.Type().IsRegular() && strings.HasSuffix(name, ext) && !strings.HasPrefix(name, "."):
			keys = append(keys, strings.TrimSuffix(name, ext))
		case folder == "" && e.IsDir() && slices.Contains(folders, name):
			keys = append(keys, name+"/")
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Get reads the record at key, or status.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (map[string]any, error) {
	p, long, err := s.path(key)
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
	doc, err := decode(key, b)
	if err != nil || long == "" {
		return doc, err
	}
	if doc[fieldLongName] != long {
		return nil, fmt.Errorf("read %s: %w: %s holds another name", key, status.ErrMalformed, filepath.Base(p))
	}
	rec, ok := doc[fieldLongRecord].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("read %s: %w: %s holds no record", key, status.ErrMalformed, filepath.Base(p))
	}
	return rec, nil
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
	p, long, err := s.path(key)
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
	hist, err := readHistory(p)
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	if old != nil && hist != "" {
		old[status.FieldHistory] = hist
	}
	doc, write, err := fn(old)
	if err != nil || !write {
		return err
	}
	// The history goes to its own file, written first: a crash between
	// the two leaves the result in the history and not yet in the record,
	// and its delivery again (the spool's) adds it to the history once.
	if h, ok := doc[status.FieldHistory].(string); ok {
		doc = maps.Clone(doc)
		delete(doc, status.FieldHistory)
		if h != hist {
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				return fmt.Errorf("write %s: %w", key, err)
			}
			if err := atomicfile.Write(historyPath(p), []byte(h), 0o640); err != nil {
				return fmt.Errorf("write %s history: %w", key, err)
			}
		}
	}
	var out any = doc
	if long != "" {
		out = map[string]any{fieldLongName: long, fieldLongRecord: doc}
	}
	b, err := json.MarshalIndent(out, "", "  ")
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
	p, _, err := s.path(key)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	defer unlock()
	for _, f := range []string{historyPath(p), logPath(p), p} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", key, err)
		}
	}
	return nil
}

func (s *Store) lock() (func(), error) {
	f, err := lockfile.Open(filepath.Join(s.dir, ".lock"), 0o640)
	if err != nil {
		return nil, err
	}
	if err := lockfile.LockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// HostJobs lists host's jobs: the store lists them cheaply, so the limit
// of jobs per host counts them all (internal/deliver's jobcap.go).
func (s *Store) HostJobs(ctx context.Context, host string) ([]string, error) {
	names, err := s.ListFolder(ctx, status.JobsFolder)
	if err != nil {
		return nil, err
	}
	var jobs []string
	for _, n := range names {
		if j, ok := strings.CutPrefix(n, host+"@"); ok {
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }
