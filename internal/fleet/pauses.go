package fleet

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
)

// loadPauses reads every pause listed under status.PausesFolder, sorted by
// host and job. A pause that cannot be read for a store failure keeps its
// previous value (prev), as a record does; the error is returned.
func loadPauses(ctx context.Context, src Source, keys []string, prev *Snapshot, snap *Snapshot) error {
	if !slices.Contains(keys, status.PausesFolder+"/") {
		return nil
	}
	fl, ok := src.(FolderLister)
	if !ok {
		return nil
	}
	names, err := fl.ListFolder(ctx, status.PausesFolder)
	if err != nil {
		if prev != nil {
			snap.Pauses = prev.Pauses
		}
		return err
	}
	var failure error
	for _, n := range names {
		host, job, err := status.SplitPauseName(n)
		if err != nil {
			snap.Problems = append(snap.Problems, err.Error())
			continue
		}
		data, err := src.Get(ctx, status.PauseKey(host, job))
		switch {
		case err == nil:
			snap.Pauses = append(snap.Pauses, status.ParsePause(host, job, data))
		case errors.Is(err, status.ErrNotFound):
			// deleted since the listing
		case errors.Is(err, status.ErrMalformed):
			snap.Pauses = append(snap.Pauses, status.Pause{Host: host, Job: job, Problems: []string{err.Error()}})
		default:
			if failure == nil {
				failure = err
			}
			if p, ok := prev.Pause(host, job); ok {
				snap.Pauses = append(snap.Pauses, p)
			}
		}
	}
	slices.SortFunc(snap.Pauses, func(a, b status.Pause) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.Job, b.Job)
	})
	return failure
}

// Pause returns the pause of host's job (job "" for the whole host), if
// the snapshot holds one; a nil snapshot holds none.
func (s *Snapshot) Pause(host, job string) (status.Pause, bool) {
	if s == nil {
		return status.Pause{}, false
	}
	for _, p := range s.Pauses {
		if p.Host == host && p.Job == job {
			return p, true
		}
	}
	return status.Pause{}, false
}
