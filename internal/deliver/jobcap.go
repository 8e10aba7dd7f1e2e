package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
	"github.com/golemtrust/backupwatch/internal/status"
)

// JobLimitError is a host's new job refused because the host has its
// most jobs already; the host's existing jobs still record.
type JobLimitError struct {
	Host, Job string
	Max       int
}

func (e *JobLimitError) Error() string {
	return fmt.Sprintf("job %s is new and host %s has %d jobs already, the most a host may have (--jobs.max-per-host): forget a job it no longer runs (backupwatch forget --host %s --job NAME), or raise the limit",
		e.Job, e.Host, e.Max, e.Host)
}

// hostJobLister is offered by a store that lists a host's jobs cheaply
// (the local store); Vault lists every host's at once, so there the jobs
// this machine has recorded are counted instead (jobRegistry).
type hostJobLister interface {
	HostJobs(ctx context.Context, host string) ([]string, error)
}

// getter reads a record, to tell an existing job from a new one.
type getter interface {
	Get(ctx context.Context, key string) (map[string]any, error)
}

// checkJobLimit refuses res when it is the first result of a job of a
// host that has d.maxJobs jobs already. Known jobs are the store's own
// list where it has one, else this machine's registry, pruned of jobs
// whose record is gone (forgotten) before refusing anything.
func (d *Deliverer) checkJobLimit(ctx context.Context, res status.Result) error {
	if d.maxJobs <= 0 || res.Job == "" {
		return nil
	}
	var (
		known []string
		err   error
	)
	if l, ok := d.st.(hostJobLister); ok {
		known, err = l.HostJobs(ctx, res.Host)
		if err != nil {
			return err
		}
	} else if d.jobsDir != "" {
		known = d.registered(res.Host)
	} else {
		return nil // nowhere to count
	}
	if slices.Contains(known, res.Job) || len(known) < d.maxJobs {
		return nil
	}
	g, ok := d.st.(getter)
	if !ok {
		return nil
	}
	exists := func(job string) (bool, error) {
		_, err := g.Get(ctx, status.Key(res.Host, job))
		switch {
		case errors.Is(err, status.ErrNotFound):
			return false, nil
		case err != nil && !errors.Is(err, status.ErrMalformed):
			return false, err
		}
		return true, nil
	}
	// A job recorded before the registry was kept (or from another
	// machine) is not new.
	if ok, err := exists(res.Job); err != nil || ok {
		return err
	}
	var still []string
	for _, j := range known {
		ok, err := exists(j)
		if err != nil {
			return err
		}
		if ok {
			still = append(still, j)
		}
	}
	if len(still) < len(known) && d.jobsDir != "" {
		d.setRegistered(res.Host, still)
	}
	if len(still) >= d.maxJobs {
		return &RefusedError{Err: &JobLimitError{Host: res.Host, Job: res.Job, Max: d.maxJobs}, Reason: "a host's jobs are bounded"}
	}
	return nil
}

// register notes that host's job has a record, in this machine's registry.
func (d *Deliverer) register(host, job string) {
	if d.jobsDir == "" || job == "" {
		return
	}
	if _, ok := d.st.(hostJobLister); ok {
		return
	}
	jobs := d.registered(host)
	if slices.Contains(jobs, job) {
		return
	}
	d.setRegistered(host, append(jobs, job))
}

// registryFile is where this machine keeps the jobs it recorded for host.
func (d *Deliverer) registryFile(host string) string {
	return filepath.Join(d.jobsDir, host+".json")
}

func (d *Deliverer) registered(host string) []string {
	b, err := os.ReadFile(d.registryFile(host))
	if err != nil {
		return nil
	}
	var jobs []string
	if json.Unmarshal(b, &jobs) != nil {
		return nil // rebuilt by the next writes; the cap is a bound, not a record
	}
	return jobs
}

func (d *Deliverer) setRegistered(host string, jobs []string) {
	slices.Sort(jobs)
	b, _ := json.Marshal(slices.Compact(jobs))
	if err := os.MkdirAll(d.jobsDir, 0o750); err == nil {
		err = atomicfile.Write(d.registryFile(host), append(b, '\n'), 0o640)
		if err == nil {
			return
		}
		d.log.Debug("jobs registry not written; the limit of jobs per host counts less", "err", err)
	}
}

// JobsDir is where a machine keeps the jobs it recorded for each host of
// the store named store, beside its spool under base (a dot folder, which
// no spool scan reads).
func JobsDir(base, store string) string {
	return filepath.Join(base, ".jobs-"+strings.TrimPrefix(spoolName(store), "."))
}
