package fleet

import (
	"context"
	"errors"
	"reflect"
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
	sortPauses(snap.Pauses)
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

// pauseRead is a pause read again for a nudge: nil when there is none.
type pauseRead struct {
	id    status.JobID
	pause *status.Pause
}

// readPause reads id's pause as loadPauses does; an error is the store's.
func readPause(ctx context.Context, src Source, id status.JobID) (pauseRead, error) {
	data, err := src.Get(ctx, status.PauseKey(id.Host, id.Job))
	switch {
	case err == nil:
		p := status.ParsePause(id.Host, id.Job, data)
		return pauseRead{id, &p}, nil
	case errors.Is(err, status.ErrNotFound):
		return pauseRead{id: id}, nil
	case errors.Is(err, status.ErrMalformed):
		return pauseRead{id, &status.Pause{Host: id.Host, Job: id.Job, Problems: []string{err.Error()}}}, nil
	default:
		return pauseRead{}, err
	}
}

// setPauses puts what was read into snap's pauses (a copy: prev's are
// shared), and reports whether they changed.
func setPauses(snap *Snapshot, reads []pauseRead) bool {
	changed := false
	for _, r := range reads {
		i := slices.IndexFunc(snap.Pauses, func(p status.Pause) bool { return p.Host == r.id.Host && p.Job == r.id.Job })
		switch {
		case i < 0 && r.pause == nil:
			continue
		case i >= 0 && r.pause == nil:
			snap.Pauses = slices.Delete(slices.Clone(snap.Pauses), i, i+1)
		case i >= 0 && reflect.DeepEqual(snap.Pauses[i], *r.pause):
			continue
		case i >= 0:
			snap.Pauses = slices.Clone(snap.Pauses)
			snap.Pauses[i] = *r.pause
		default:
			snap.Pauses = append(slices.Clone(snap.Pauses), *r.pause)
			sortPauses(snap.Pauses)
		}
		changed = true
	}
	return changed
}

func sortPauses(ps []status.Pause) {
	slices.SortFunc(ps, func(a, b status.Pause) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.Job, b.Job)
	})
}
