package localstore

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Watch calls changed with each record written in the store (a host's own
// record, one of its jobs', a restore test's), named as a nudge names it,
// as the file system reports it, until ctx ends. It lets serve show a record within a second
// of `record` even when nothing nudges it. It is an accelerator only:
// when the watch cannot be set up (too many inotify watches, a file system
// without notification) or later fails, it logs that once and returns or
// carries on, and serve's full re-read still brings every change.
//
// Removals (forget) and names that are not records (long names kept
// under a hash among them) are left to the full re-read, as in Vault, where forget does not
// nudge either; so are the temporary files of atomic writes (their rename
// onto the record is the event that counts).
func (s *Store) Watch(ctx context.Context, logger *slog.Logger, changed func(status.JobID)) {
	fallback := "records are seen at the next full re-read (--refresh.interval) or when nudged (--exporter.url)"
	w, err := fsnotify.NewWatcher()
	if err != nil {
		logger.Warn("cannot watch the local store for changes; "+fallback, "dir", s.dir, "err", err)
		return
	}
	defer w.Close()
	if err := w.Add(s.dir); err != nil {
		logger.Warn("cannot watch the local store for changes; "+fallback, "dir", s.dir, "err", err)
		return
	}
	// The folders are created later when missing: see below.
	watching := map[string]bool{}
	for _, f := range folders {
		p := filepath.Join(s.dir, f)
		watching[p] = w.Add(p) == nil
	}
	logger.Info("watching the local store for changes: a record written there is served within a second", "dir", s.dir)
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			if !warned { // an overflow repeats under load: once is enough
				logger.Warn("watching the local store lost events; "+fallback, "dir", s.dir, "err", err)
				warned = true
			}
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if on, folder := watching[ev.Name]; folder && !on && ev.Has(fsnotify.Create) {
				if watching[ev.Name] = w.Add(ev.Name) == nil; !watching[ev.Name] && !warned {
					logger.Warn("cannot watch a folder of the local store for changes; "+fallback, "dir", ev.Name)
					warned = true
				}
				// What was written into the folder between its creation
				// and the watch on it made no event: read what it holds.
				// (Seen under wine; on Linux too, a record can land in
				// those few microseconds.)
				if entries, err := os.ReadDir(ev.Name); err == nil {
					for _, e := range entries {
						if id, ok := recordOf(s.dir, filepath.Join(ev.Name, e.Name())); ok {
							changed(id)
						}
					}
				}
				continue
			}
			if id, ok := recordOf(s.dir, ev.Name); ok && ev.Op&(fsnotify.Create|fsnotify.Write) != 0 {
				changed(id)
			}
		}
	}
}

// recordOf is the record whose file is name in the store at dir:
// <dir>/<host>.json, <dir>/restore-test.json or <dir>/jobs/<host>@<job>.json;
// a pause's file, <dir>/pauses/<host>[@<job>].json, is its host's or job's
// (a reread reads the pause with the record).
func recordOf(dir, name string) (status.JobID, bool) {
	base := filepath.Base(name)
	key, ok := strings.CutSuffix(base, ext)
	if !ok || strings.HasPrefix(base, ".") {
		return status.JobID{}, false
	}
	switch filepath.Dir(name) {
	case filepath.Clean(dir):
		if key != status.RestoreTestKey && status.ValidateHost(key) != nil {
			return status.JobID{}, false
		}
		return status.JobID{Host: key}, true
	case filepath.Join(dir, status.JobsFolder):
		host, job, err := status.SplitJobName(key)
		if err != nil {
			return status.JobID{}, false
		}
		return status.JobID{Host: host, Job: job}, true
	case filepath.Join(dir, status.PausesFolder):
		host, job, err := status.SplitPauseName(key)
		if err != nil {
			return status.JobID{}, false
		}
		return status.JobID{Host: host, Job: job}, true
	}
	return status.JobID{}, false
}
