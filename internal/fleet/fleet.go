// Package fleet reads the status records of every host, expected or found,
// into one snapshot, with bounded concurrency and without ever dropping a
// host or forgetting what was known when the store fails.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Source is what a snapshot needs from a store.
type Source interface {
	List(ctx context.Context) ([]string, error)
	Get(ctx context.Context, key string) (map[string]any, error)
}

// FolderLister is what a store needs to hold job records: a listing of
// status.JobsFolder. A source without it has hosts only.
type FolderLister interface {
	ListFolder(ctx context.Context, folder string) ([]string, error)
}

// Scheduler sets schedules centrally (the config file): the schedule of
// host's job ("" for the host's own record), if it sets one.
type Scheduler interface {
	Schedule(host, job string) (schedule.Schedule, bool)
}

// Snapshot is the state of the fleet at one refresh.
type Snapshot struct {
	Hosts Records // sorted by host name; the runbook's records
	// Jobs are the records of hosts' jobs, sorted by host and job. A host
	// with jobs but no record of its own is in Jobs only.
	Jobs        Records
	RestoreTest *status.RestoreTest // nil when none is recorded
	// RestoreTestJobs are restore tests recorded with a job, sorted by it.
	RestoreTestJobs []status.RestoreTest
	// Pauses are the hosts' and jobs' maintenance windows, active or
	// ended, sorted by host and job.
	Pauses []status.Pause
	// Listed is set once the store's listing has been read, in this
	// refresh or an earlier one: until then nothing is known of the fleet.
	Listed bool
	// Problems are store-level diagnostics (a sub-folder under the prefix).
	Problems []string
	// Err is set when the refresh did not reach the store completely; the
	// records are then the last ones known.
	Err      error
	Started  time.Time
	Duration time.Duration
	// LastSuccess is when a refresh last reached the store completely.
	LastSuccess time.Time
}

// Options tune a refresh.
type Options struct {
	Expected  []string       // hosts that must be there, recorded or not
	Jobs      []status.JobID // jobs that must be there, recorded or not
	Schedules Scheduler      // central schedules; nil when none
	Workers   int            // concurrent reads; 8 if zero
	Now       func() time.Time
}

// Load reads every record. prev, when not nil, is the previous snapshot: a
// record that cannot be read now keeps its previous value, so a store outage
// never turns known hosts into unknown ones.
func Load(ctx context.Context, src Source, opts Options, prev *Snapshot) *Snapshot {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	snap := &Snapshot{Started: now()}
	if prev != nil {
		snap.LastSuccess, snap.Listed = prev.LastSuccess, prev.Listed
	}
	own := true // the records are this snapshot's own, not prev's (shared)
	defer func() {
		snap.Duration = now().Sub(snap.Started)
		if own {
			resolveSchedules(snap, opts.Schedules)
		}
	}()

	keys, err := src.List(ctx)
	var jobNames []string
	if err == nil && slices.Contains(keys, status.JobsFolder+"/") {
		if fl, ok := src.(FolderLister); ok {
			jobNames, err = fl.ListFolder(ctx, status.JobsFolder)
		}
	}
	if err != nil {
		snap.Err = err
		if prev != nil {
			snap.Hosts, snap.Jobs, snap.RestoreTest, snap.RestoreTestJobs, snap.Problems = prev.Hosts, prev.Jobs, prev.RestoreTest, prev.RestoreTestJobs, prev.Problems
			snap.Pauses = prev.Pauses
			own = false // resolved when prev was made: its records are published
			return snap
		}
		var hosts, jobs []status.Record
		for _, h := range dedupe(opts.Expected) {
			hosts = append(hosts, status.Record{Host: h, Status: status.Unknown, Unread: true, Problems: []string{"store not reached"}})
		}
		for _, id := range dedupeJobs(opts.Jobs) {
			jobs = append(jobs, status.Record{Host: id.Host, Job: id.Job, Status: status.Unknown, Unread: true, Problems: []string{"store not reached"}})
		}
		snap.Hosts, snap.Jobs = RecordsOf(hosts...), RecordsOf(jobs...)
		return snap
	}

	snap.Listed = true
	hosts, hasRestoreTest := hostsToRead(keys, opts.Expected, snap)
	jobs, restoreJobs := jobsToRead(jobNames, opts.Jobs, snap)
	ids := make([]status.JobID, 0, len(hosts)+len(jobs))
	for _, h := range hosts {
		ids = append(ids, status.JobID{Host: h})
	}
	ids = append(ids, jobs...)
	// The records are read into blocks (records.go) as the list will
	// hold them, and a block that reads exactly as prev's is dropped for
	// prev's as soon as its last record is read: in a refresh that
	// finds most of the fleet unchanged, the new snapshot shares most of
	// the old one's memory instead of holding a second copy of the fleet
	// beside it (some 60 MB at 100,000 hosts, the most of serve's peak).
	fill := newFilling(len(hosts), len(ids))

	var (
		mu      sync.Mutex
		failure error
	)
	fail := func(err error) {
		mu.Lock()
		if failure == nil {
			failure = err
		}
		mu.Unlock()
	}
	work := make(chan int)
	var wg sync.WaitGroup
	workers := opts.Workers
	if workers <= 0 {
		workers = 8
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				id := ids[i]
				h := id.Host
				r := fill.at(i)
				data, err := src.Get(ctx, status.Key(id.Host, id.Job))
				switch {
				case err == nil:
					*r = status.Parse(h, data)
					if verr := status.ValidateHost(h); verr != nil {
						r.Problems = append(r.Problems, verr.Error())
					}
					r.ClampFuture(now(), prevRecord(prev, id))
				case errors.Is(err, status.ErrNotFound):
					*r = status.Record{Host: h, Status: status.Unknown, NoRecord: true, Problems: []string{"no record"}}
				case errors.Is(err, status.ErrMalformed):
					// The store answered; this one record is unreadable.
					*r = status.Record{Host: h, Status: status.Unknown, Problems: []string{err.Error()}}
				default:
					fail(err)
					if p := prevRecord(prev, id); p != nil {
						// The record as last read, problems and all: the
						// failure is the store's (snap.Err), not the
						// record's, and appending it here would grow the
						// list at every refresh while the failure lasts.
						*r = *p
					} else {
						*r = status.Record{Host: h, Status: status.Unknown, Unread: true, Problems: []string{err.Error()}}
					}
				}
				r.Job = id.Job
				resolveSchedule(r, opts.Schedules)
				fill.done(i, prev)
			}
		}()
	}
	for i := range ids {
		fill.start(i)
		work <- i
	}
	close(work)
	wg.Wait()
	own = false // resolved as read; blocks taken from prev are prev's
	snap.Hosts, snap.Jobs = fill.lists()
	// A host that reports through its jobs only has no record of its own
	// to wait for: expected (by --host or the config file) or not, its jobs
	// stand for it, and an "unknown" of its own would alert for ever.
	withJobs := map[string]bool{}
	for _, r := range snap.Jobs.All() {
		withJobs[r.Host] = true
	}
	for i := 0; len(withJobs) > 0 && i < snap.Hosts.Len(); {
		if r := snap.Hosts.At(i); r.NoRecord && withJobs[r.Host] {
			snap.Hosts = snap.Hosts.Delete(i)
			continue
		}
		i++
	}

	readRestoreTest := func(key string, prevRT *status.RestoreTest) *status.RestoreTest {
		data, err := src.Get(ctx, key)
		switch {
		case err == nil:
			rt := status.ParseRestoreTest(data)
			rt.ClampFuture(now(), prevRT)
			return &rt
		case errors.Is(err, status.ErrNotFound):
			return nil
		case errors.Is(err, status.ErrMalformed):
			rt := status.ParseRestoreTest(nil)
			rt.Problems = []string{err.Error()}
			return &rt
		default:
			fail(err)
			return prevRT
		}
	}
	if hasRestoreTest {
		var p *status.RestoreTest
		if prev != nil {
			p = prev.RestoreTest
		}
		snap.RestoreTest = readRestoreTest(status.RestoreTestKey, p)
	}
	for _, job := range restoreJobs {
		var p *status.RestoreTest
		if prev != nil {
			for i := range prev.RestoreTestJobs {
				if prev.RestoreTestJobs[i].Job == job {
					p = &prev.RestoreTestJobs[i]
				}
			}
		}
		if rt := readRestoreTest(status.Key(status.RestoreTestKey, job), p); rt != nil {
			rt.Job = job
			snap.RestoreTestJobs = append(snap.RestoreTestJobs, *rt)
		}
	}
	if err := loadPauses(ctx, src, keys, prev, snap); err != nil {
		fail(err)
	}
	snap.Err = failure
	if failure == nil {
		snap.LastSuccess = now()
	}
	return snap
}

// prevRecord is prev's record of id, or nil: a pointer into prev, not a
// copy (a record is some 500 bytes, and a copy of each took as much memory
// again as the snapshot for the whole refresh), looked up in prev's sorted
// lists rather than in a map of them (some 10 MB more at 100,000 hosts).
func prevRecord(prev *Snapshot, id status.JobID) *status.Record {
	if prev == nil {
		return nil
	}
	list := prev.Hosts
	if id.Job != "" {
		list = prev.Jobs
	}
	if i, found := list.Search(id); found {
		return list.At(i)
	}
	return nil
}

// ClampFuture is status.Record.ClampFuture for a record read again outside
// a full refresh (a nudge): prev is the snapshot that held it before.
func ClampFuture(r *status.Record, now time.Time, prev *Snapshot) {
	r.ClampFuture(now, prevRecord(prev, status.JobID{Host: r.Host, Job: r.Job}))
}

// resolveSchedules sets each record's schedule (see resolveSchedule); the
// snapshot is not published yet, so its records are still its own.
func resolveSchedules(snap *Snapshot, central Scheduler) {
	for _, rs := range []Records{snap.Hosts, snap.Jobs} {
		for _, r := range rs.All() {
			resolveSchedule(r, central)
		}
	}
}

// resolveSchedule sets r's schedule: the central one, else the recorded
// one, else the runbook's (the zero value).
func resolveSchedule(r *status.Record, central Scheduler) {
	r.Schedule, r.ScheduleFrom = schedule.Schedule{}, ""
	if r.RecordedSchedule != nil {
		r.Schedule, r.ScheduleFrom = *r.RecordedSchedule, status.ScheduleFromRecord
	}
	if central != nil {
		if s, ok := central.Schedule(r.Host, r.Job); ok {
			r.Schedule, r.ScheduleFrom = s, status.ScheduleFromConfig
		}
	}
}

// hostsToRead is the sorted union of listed and expected hosts.
func hostsToRead(keys, expected []string, snap *Snapshot) ([]string, bool) {
	seen := map[string]bool{}
	hasRestoreTest := false
	var hosts []string
	add := func(h string) {
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	for _, k := range keys {
		switch {
		case k == status.RestoreTestKey:
			hasRestoreTest = true
		case k == status.JobsFolder+"/":
			// job records: read by jobsToRead
		case k == status.PausesFolder+"/":
			// maintenance windows: read by loadPauses
		case strings.HasSuffix(k, "/"):
			snap.Problems = append(snap.Problems, fmt.Sprintf("%q is a folder under the prefix, not a host record", status.Truncate(k, 80)))
		default:
			add(k)
		}
	}
	for _, h := range expected {
		add(h)
	}
	sort.Strings(hosts)
	return hosts, hasRestoreTest
}

// jobsToRead is the sorted union of listed and expected jobs, and the
// restore test's jobs. A listed name that is not <host>@<job> with valid
// names is a store problem, never a host.
func jobsToRead(names []string, expected []status.JobID, snap *Snapshot) ([]status.JobID, []string) {
	seen := map[status.JobID]bool{}
	var jobs []status.JobID
	var restoreJobs []string
	for _, n := range names {
		h, j, err := status.SplitJobName(n)
		switch {
		case err != nil:
			snap.Problems = append(snap.Problems, err.Error())
		case h == status.RestoreTestKey:
			restoreJobs = append(restoreJobs, j)
		case !seen[status.JobID{Host: h, Job: j}]:
			seen[status.JobID{Host: h, Job: j}] = true
			jobs = append(jobs, status.JobID{Host: h, Job: j})
		}
	}
	for _, id := range expected {
		if !seen[id] {
			seen[id] = true
			jobs = append(jobs, id)
		}
	}
	sortJobs(jobs)
	sort.Strings(restoreJobs)
	return jobs, restoreJobs
}

func sortJobs(ids []status.JobID) {
	slices.SortFunc(ids, func(a, b status.JobID) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.Job, b.Job)
	})
}

func dedupeJobs(ids []status.JobID) []status.JobID {
	out := slices.Clone(ids)
	sortJobs(out)
	return slices.Compact(out)
}

func dedupe(hs []string) []string {
	out := append([]string(nil), hs...)
	sort.Strings(out)
	j := 0
	for i, h := range out {
		if i == 0 || h != out[j-1] {
			out[j] = h
			j++
		}
	}
	return out[:j]
}
