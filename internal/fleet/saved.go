package fleet

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

// A saved snapshot lets a restarted exporter serve what it knew at once,
// instead of nothing until its first full refresh (some two minutes at
// 100,000 hosts). It is gzipped JSON lines: a header, then one record per
// line (hosts, then jobs), so that neither writing nor reading it holds
// the whole text.

// SavedFormat names the saved snapshot's format: a file without it is not
// one (or of another version), and is ignored.
const SavedFormat = "backupwatch-snapshot/1"

// savedHeader is a saved snapshot's first line: all but its records.
type savedHeader struct {
	Format          string               `json:"format"`
	Store           string               `json:"store"`
	Saved           time.Time            `json:"saved"`
	Hosts           int                  `json:"hosts"`
	Jobs            int                  `json:"jobs"`
	Listed          bool                 `json:"listed"`
	Problems        []string             `json:"problems,omitempty"`
	Started         time.Time            `json:"started"`
	Duration        time.Duration        `json:"duration"`
	LastSuccess     time.Time            `json:"last_success"`
	RestoreTest     *status.RestoreTest  `json:"restore_test,omitempty"`
	RestoreTestJobs []status.RestoreTest `json:"restore_test_jobs,omitempty"`
	Pauses          []status.Pause       `json:"pauses,omitempty"`
}

// Save writes snap to path atomically, for LoadSaved; store names the
// store it was read from, so that a snapshot of another is never served.
// The store's error is not saved: what was read is.
func Save(path, store string, snap *Snapshot, now time.Time) error {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // only fails for a bad level
	enc := json.NewEncoder(zw)
	err := enc.Encode(savedHeader{
		Format: SavedFormat, Store: store, Saved: now, Hosts: snap.Hosts.Len(), Jobs: snap.Jobs.Len(),
		Listed: snap.Listed, Problems: snap.Problems, Started: snap.Started, Duration: snap.Duration, LastSuccess: snap.LastSuccess,
		RestoreTest: snap.RestoreTest, RestoreTestJobs: snap.RestoreTestJobs, Pauses: snap.Pauses,
	})
	for _, rs := range []Records{snap.Hosts, snap.Jobs} {
		for _, r := range rs.All() {
			if err == nil {
				err = enc.Encode(r)
			}
		}
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = atomicfile.Write(path, buf.Bytes(), 0o600)
	}
	if err != nil {
		return fmt.Errorf("save the snapshot to %s: %w", path, err)
	}
	return nil
}

// ErrNoSaved is LoadSaved's error when there is no saved snapshot.
var ErrNoSaved = errors.New("no saved snapshot")

// LoadSaved reads the snapshot Save wrote to path, for store, and the time
// it was saved; schedules are resolved as a refresh would. A file that is
// not a whole snapshot of this format for store is an error, and nothing
// of it is returned.
func LoadSaved(path, store string, central Scheduler) (*Snapshot, time.Time, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, time.Time{}, ErrNoSaved
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read the saved snapshot: %w", err)
	}
	defer f.Close()
	snap, saved, err := readSaved(f, store)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read the saved snapshot %s: %w", path, err)
	}
	resolveSchedules(snap, central)
	return snap, saved, nil
}

// maxSavedRecords bounds what a saved snapshot may claim to hold, so that
// a damaged header cannot make the reader allocate without end.
const maxSavedRecords = 10_000_000

func readSaved(r io.Reader, store string) (*Snapshot, time.Time, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("not a gzipped snapshot: %w", err)
	}
	dec := json.NewDecoder(zr)
	var h savedHeader
	if err := dec.Decode(&h); err != nil {
		return nil, time.Time{}, fmt.Errorf("no header: %w", err)
	}
	switch {
	case h.Format != SavedFormat:
		return nil, time.Time{}, fmt.Errorf("format %q, want %q", status.Truncate(h.Format, 80), SavedFormat)
	case h.Store != store:
		return nil, time.Time{}, fmt.Errorf("saved from another store (%q), not %q", status.Truncate(h.Store, 200), store)
	case h.Hosts < 0 || h.Jobs < 0 || h.Hosts+h.Jobs > maxSavedRecords:
		return nil, time.Time{}, fmt.Errorf("header claims %d hosts and %d jobs", h.Hosts, h.Jobs)
	}
	snap := &Snapshot{
		Listed: h.Listed, Problems: h.Problems, Started: h.Started, Duration: h.Duration, LastSuccess: h.LastSuccess,
		RestoreTest: h.RestoreTest, RestoreTestJobs: h.RestoreTestJobs, Pauses: h.Pauses,
	}
	// Read into blocks of the list (records.go) as they come: a slice
	// grown by append copied the fleet's records about twice over, and
	// kept a quarter more room than it held.
	read := func(n int, job bool) (Records, error) {
		var blocks [][]status.Record
		var blk []status.Record
		var last *status.Record
		for i := range n {
			if len(blk) == cap(blk) {
				if blk != nil {
					blocks = append(blocks, blk)
				}
				blk = make([]status.Record, 0, min(blockSize, n-i))
			}
			blk = blk[:len(blk)+1]
			rec := &blk[len(blk)-1]
			if err := dec.Decode(rec); err != nil {
				return Records{}, fmt.Errorf("record %d of %d: %w", i+1, n, err)
			}
			if (rec.Job != "") != job || last != nil && compareRecord(*last, status.JobID{Host: rec.Host, Job: rec.Job}) >= 0 {
				return Records{}, fmt.Errorf("record %d of %d out of order", i+1, n)
			}
			if err := reparseSchedule(rec); err != nil {
				return Records{}, err
			}
			last = rec
		}
		if len(blk) > 0 {
			blocks = append(blocks, blk)
		}
		return recordsOfBlocks(blocks), nil
	}
	if snap.Hosts, err = read(h.Hosts, false); err != nil {
		return nil, time.Time{}, err
	}
	if snap.Jobs, err = read(h.Jobs, true); err != nil {
		return nil, time.Time{}, err
	}
	if dec.More() {
		return nil, time.Time{}, errors.New("more records than the header says")
	}
	// Reading to the end checks gzip's CRC: a damaged file is refused.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return nil, time.Time{}, fmt.Errorf("damaged: %w", err)
	}
	return snap, h.Saved, nil
}

// reparseSchedule makes a decoded record's recorded schedule whole again:
// JSON keeps its fields, not the parsed cron expression.
func reparseSchedule(r *status.Record) error {
	rs := r.RecordedSchedule
	if rs == nil {
		return nil
	}
	var s schedule.Schedule
	var err error
	if rs.Cron != "" {
		s, err = schedule.Cron(rs.Cron, rs.TZ, rs.Grace)
	} else {
		s, err = schedule.Interval(rs.Every, rs.Grace)
	}
	if err != nil {
		return fmt.Errorf("record of %s: schedule: %w", status.Truncate(r.Host, 80), err)
	}
	r.RecordedSchedule = &s
	return nil
}
