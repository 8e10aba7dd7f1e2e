package localstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
)

// A record's history (status.FieldHistory) is kept in a file beside the
// record's, <name>.history, written under the same lock in the same
// Update: serve's refresh reads only the records (Get), and a JSON
// decoder reading 30 entries with every record doubled the refresh's time
// (BenchmarkRefreshHistory). List sees only .json files, so the history
// file is never a key.
const historyExt = ".history"

// maxHistoryFile bounds what is read of a history file, from its end: a
// history written by this store is a few KiB (status.HistoryLen lines).
const maxHistoryFile = 64 << 10

func historyPath(recordPath string) string {
	return strings.TrimSuffix(recordPath, ext) + historyExt
}

// readHistory reads the history file of the record at p; "" when there
// is none. Only its last maxHistoryFile bytes are read.
func readHistory(p string) (string, error) {
	return readTail(historyPath(p), maxHistoryFile)
}

func readTail(p string, limit int64) (string, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		if _, err := f.Seek(-limit, io.SeekEnd); err != nil {
			return "", fmt.Errorf("read %s: %w", p, err)
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return string(b), nil
}

// Detail reads the record at key with its history, for a page that shows
// it; Get leaves the history out.
func (s *Store) Detail(ctx context.Context, key string) (map[string]any, error) {
	doc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	p, _, err := s.path(key)
	if err != nil {
		return nil, err
	}
	h, err := readHistory(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if h != "" {
		doc[status.FieldHistory] = h
	}
	return doc, nil
}

// The log of a record's last failed run (status.SideLog's key) is kept in
// <name>.log beside the record, read only by the page that shows it.
const logExt = ".log"

func logPath(recordPath string) string {
	return strings.TrimSuffix(recordPath, ext) + logExt
}
