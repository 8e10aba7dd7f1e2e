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

// Reread returns prev with the given hosts' records read again: each
// host's own record and the records of its jobs that prev knows (a new job
// waits for the next full refresh). A host prev does not know is added, as
// a full refresh would list it. prev's refresh times, error and listing
// state are kept: a reread is not a refresh. When the store fails for any
// of them, prev is returned unchanged with the error: the next full
// refresh reads them anyway.
func Reread(ctx context.Context, src Source, opts Options, prev *Snapshot, hosts []string) (*Snapshot, error) {
	if prev == nil || !prev.Listed {
		return prev, errors.New("no full refresh has listed the store yet")
	}
	type read struct {
		id  status.JobID
		rec status.Record
	}
	var reads []read
	for _, h := range hosts {
		ids := []status.JobID{{Host: h}}
		for _, r := range prev.Jobs {
			if r.Host == h {
				ids = append(ids, status.JobID{Host: h, Job: r.Job})
			}
		}
		for _, id := range ids {
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
				return prev, err
			}
			r.Job = id.Job
			ClampFuture(&r, nowOf(opts), prev)
			reads = append(reads, read{id, r})
		}
	}

	snap := *prev
	snap.Hosts = slices.Clone(prev.Hosts)
	snap.Jobs = slices.Clone(prev.Jobs)
	withJobs := map[string]bool{}
	for _, r := range snap.Jobs {
		withJobs[r.Host] = true
	}
	for _, rd := range reads {
		list := &snap.Hosts
		if rd.id.Job != "" {
			list = &snap.Jobs
		}
		cmp := func(r status.Record, id status.JobID) int {
			if c := strings.Compare(r.Host, id.Host); c != 0 {
				return c
			}
			return strings.Compare(r.Job, id.Job)
		}
		i, found := slices.BinarySearchFunc(*list, rd.id, cmp)
		switch {
		case found:
			(*list)[i] = rd.rec
		case rd.rec.NoRecord && (withJobs[rd.id.Host] || !slices.Contains(opts.Expected, rd.id.Host)):
			// Nothing to add: a host that reports through its jobs, or
			// one that is neither recorded nor expected.
		default:
			*list = slices.Insert(*list, i, rd.rec)
		}
	}
	resolveSchedules(&snap, opts.Schedules)
	return &snap, nil
}
