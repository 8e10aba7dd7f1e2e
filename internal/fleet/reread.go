package fleet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

func nowOf(opts Options) time.Time {
	if opts.Now != nil {
		return opts.Now()
	}
	return time.Now()
}

// Reread returns prev with the given records read again, as nudges name
// them: {host, ""} is the host's own record and the records of its jobs
// that prev knows (what a nudge of an older `record` means for a job's
// result too); {host, job} is that job's record alone, new or not;
// {status.RestoreTestKey, job} is a restore test's. A record prev does not
// hold is added, as a full refresh would list it: a new host, a host's new
// job (and with it a host that reports only through jobs), a first restore
// test. prev's refresh times, error and listing state are kept: a reread is
// not a refresh. When nothing read differs in kind from prev (names with no
// record), prev itself is returned, so the caller need not publish. When
// the store fails for any of them, prev is returned unchanged with the
// error: the next full refresh reads them anyway. Each name's pause is
// read again too ({host, ""}: the host's, {host, job}: the job's), so that
// `pause` and `resume` take effect at their nudge, not at the next
// refresh: one more read per name.
func Reread(ctx context.Context, src Source, opts Options, prev *Snapshot, ids []status.JobID) (*Snapshot, error) {
	if prev == nil || !prev.Listed {
		return prev, errors.New("no full refresh has listed the store yet")
	}
	type read struct {
		id  status.JobID
		rec status.Record
	}
	var (
		reads  []read
		rts    []status.JobID
		seen   = map[status.JobID]bool{}
		pauses []pauseRead
	)
	for _, want := range ids {
		if want.Host == status.RestoreTestKey {
			rts = append(rts, want)
			continue
		}
		pr, err := readPause(ctx, src, want)
		if err != nil {
			return prev, err
		}
		pauses = append(pauses, pr)
		keys := []status.JobID{want}
		if want.Job == "" {
			for i := prev.Jobs.SearchHost(want.Host); i < prev.Jobs.Len() && prev.Jobs.At(i).Host == want.Host; i++ {
				keys = append(keys, status.JobID{Host: want.Host, Job: prev.Jobs.At(i).Job})
			}
		}
		for _, id := range keys {
			if seen[id] {
				continue
			}
			seen[id] = true
			r, err := readRecord(ctx, src, id)
			if err != nil {
				return prev, err
			}
			ClampFuture(&r, nowOf(opts), prev)
			reads = append(reads, read{id, r})
		}
	}

	// The new snapshot shares prev's blocks of records but those it
	// changes (records.go): prev, which scrapes may be reading, is never
	// changed, and a nudge copies a block, not the fleet.
	snap := *prev
	changed := setPauses(&snap, pauses)
	for _, rd := range reads {
		resolveSchedule(&rd.rec, opts.Schedules)
		list := &snap.Hosts
		if rd.id.Job != "" {
			list = &snap.Jobs
		}
		i, found := list.Search(rd.id)
		switch {
		case found:
			*list = list.Set(i, rd.rec)
			changed = true
		case rd.rec.NoRecord && (rd.id.Job != "" || hasJobs(snap.Jobs, rd.id.Host) || !slices.Contains(opts.Expected, rd.id.Host)):
			// Nothing to add: a job with no record that prev did not
			// expect, a host that reports through its jobs, or one that
			// is neither recorded nor expected.
		default:
			*list = list.Insert(i, rd.rec)
			changed = true
		}
	}
	// A host that now reports through a job has no record of its own to
	// wait for (as Load decides). Only the hosts read can have become one:
	// prev had none. (Looked up, not scanned: a scan of 100,000 records
	// per nudge is what made a nudge cost the fleet.)
	for _, rd := range reads {
		i, found := snap.Hosts.Search(status.JobID{Host: rd.id.Host})
		if found && snap.Hosts.At(i).NoRecord && hasJobs(snap.Jobs, rd.id.Host) {
			snap.Hosts = snap.Hosts.Delete(i)
		}
	}
	for _, id := range rts {
		c, err := rereadRestoreTest(ctx, src, &snap, id.Job, nowOf(opts))
		if err != nil {
			return prev, err
		}
		changed = changed || c
	}
	if !changed {
		return prev, nil
	}
	return &snap, nil
}

// readRecord reads one host's or job's record as Load does; an error is
// the store's.
func readRecord(ctx context.Context, src Source, id status.JobID) (status.Record, error) {
	data, err := src.Get(ctx, status.Key(id.Host, id.Job))
	var r status.Record
	switch {
	case err == nil:
		r = status.Parse(id.Host, data)
		if verr := status.ValidateHost(id.Host); verr != nil {
			r.Problems = append(r.Problems, verr.Error())
		}
	case errors.Is(err, status.ErrNotFound):
		r = status.Record{Host: id.Host, Status: status.Unknown, NoRecord: true, Problems: []string{"no record"}}
	case errors.Is(err, status.ErrMalformed):
		r = status.Record{Host: id.Host, Status: status.Unknown, Problems: []string{err.Error()}}
	default:
		return status.Record{}, err
	}
	r.Job = id.Job
	return r, nil
}

// rereadRestoreTest reads the restore test of job ("" for the runbook's
// one) into snap, and reports whether snap changed.
func rereadRestoreTest(ctx context.Context, src Source, snap *Snapshot, job string, now time.Time) (bool, error) {
	data, err := src.Get(ctx, status.Key(status.RestoreTestKey, job))
	var rt *status.RestoreTest
	switch {
	case err == nil:
		v := status.ParseRestoreTest(data)
		var prevRT *status.RestoreTest
		if job == "" {
			prevRT = snap.RestoreTest
		} else if i := slices.IndexFunc(snap.RestoreTestJobs, func(r status.RestoreTest) bool { return r.Job == job }); i >= 0 {
			prevRT = &snap.RestoreTestJobs[i]
		}
		v.ClampFuture(now, prevRT)
		rt = &v
	case errors.Is(err, status.ErrNotFound):
	case errors.Is(err, status.ErrMalformed):
		v := status.ParseRestoreTest(nil)
		v.Problems = []string{err.Error()}
		rt = &v
	default:
		return false, err
	}
	if job == "" {
		if rt == nil && snap.RestoreTest == nil {
			return false, nil
		}
		snap.RestoreTest = rt
		return true, nil
	}
	list := slices.Clone(snap.RestoreTestJobs)
	i, found := slices.BinarySearchFunc(list, job, func(r status.RestoreTest, j string) int { return strings.Compare(r.Job, j) })
	switch {
	case rt == nil && !found:
		return false, nil
	case rt == nil:
		list = slices.Delete(list, i, i+1)
	case found:
		rt.Job = job
		list[i] = *rt
	default:
		rt.Job = job
		list = slices.Insert(list, i, *rt)
	}
	snap.RestoreTestJobs = list
	return true, nil
}

// hasJobs reports whether jobs (sorted by host) holds a job of host.
func hasJobs(jobs Records, host string) bool {
	i := jobs.SearchHost(host)
	return i < jobs.Len() && jobs.At(i).Host == host
}
