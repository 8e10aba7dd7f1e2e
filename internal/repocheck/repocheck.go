// Package repocheck is the repository as a second witness: what restic's
// own listing of a repository says about each host in it (newest snapshot,
// snapshot count), and a data check that reads a different part of the
// repository at each run (restic check --read-data-subset=n/N), so the
// whole of it is read over N runs. One record per repository.
package repocheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Record fields. The hosts are one nested object, keyed by host name.
const (
	FieldCheckedAt       = "checked_at"   // when this check ran (listing attempted)
	FieldStatus          = "status"       // success or failed: the listing
	FieldMessage         = "message"      // why the listing failed
	FieldLastSuccess     = "last_success" // when a listing last succeeded
	FieldSnapshots       = "snapshots"    // snapshots in the repository
	FieldHosts           = "hosts"        // host -> {newest_time, newest_id, oldest_time, snapshots, future, gone_at}
	FieldNewestTime      = "newest_time"  // the newest snapshot not from the future
	FieldNewestID        = "newest_id"
	FieldOldestTime      = "oldest_time"
	FieldFuture          = "future"             // snapshots dated beyond the check's time + MaxClockSkew
	FieldGoneAt          = "gone_at"            // when a listing first found none of the host's snapshots
	FieldHostsOverLimit  = "hosts_over_limit"   // host names beyond MaxHosts, counted, not kept
	FieldUndeclared      = "undeclared_hosts"   // host names outside the declared fleet (repo-check --config.file)
	FieldDataCheck       = "data_check"         // passed or failed: the last data check
	FieldDataCheckAt     = "data_check_at"      // when it ran
	FieldDataCheckSubset = "data_check_subset"  // the subset it read, "n/N"
	FieldDataCheckMsg    = "data_check_message" // why it failed
	FieldDataCheckNext   = "data_check_next"    // the subset the next run reads (1..N)
	FieldDataCheckOf     = "data_check_of"      // N
	FieldWriter          = status.FieldWriter
)

// MaxClockSkew is how far ahead of the check's own clock a snapshot may be
// dated and still be taken as a host's newest: the allowance records get.
// A snapshot dated further ahead (a clock that ran ahead, or restic backup
// --time by anyone holding the password) would hide for as long as it is
// kept that the host's backups stopped; it is counted as from the future
// instead, and alerted on.
const MaxClockSkew = 5 * time.Minute

// HostsKeptFor is how long a host whose snapshots are all gone stays in the
// record (with 0 snapshots, so BackupRepositoryDisagrees can say so): after
// that it leaves the record and its series, so that host names written
// into the repository cannot grow the record and the series for ever.
// Hosts expected with --host stay.
const HostsKeptFor = 30 * 24 * time.Hour

// MaxSubsets bounds N: more runs than this to read a repository once is
// more than a decade of daily checks.
const MaxSubsets = 10000

// ValidateName refuses a repository name that cannot be a record key or a
// label: the same rules as host names.
func ValidateName(name string) error {
	if err := status.ValidateHost(name); err != nil {
		return fmt.Errorf("repository name: %w", err)
	}
	return nil
}

// DefaultName is a record name for a repository location: its last path
// element, without any credentials the location may hold, made a valid
// name ("" when nothing is left).
func DefaultName(location string) string {
	loc := location
	if i := strings.LastIndex(loc, "@"); i >= 0 {
		loc = loc[i+1:] // rest:https://user:pass@host/x, sftp:user@host:/x
	}
	loc = strings.TrimRight(loc, "/")
	if i := strings.LastIndexAny(loc, "/:"); i >= 0 {
		loc = loc[i+1:]
	}
	var b strings.Builder
	for _, c := range loc {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-.")
	if len(name) > 63 {
		name = strings.Trim(name[:63], "-.")
	}
	if ValidateName(name) != nil {
		return ""
	}
	return name
}

// HostView is what the repository holds of one host.
type HostView struct {
	Snapshots  int64
	NewestTime time.Time // zero when it has none (any more) but from the future
	NewestID   string
	OldestTime time.Time
	Future     int64     // snapshots dated beyond the check's time + MaxClockSkew
	GoneAt     time.Time // when a listing first found none of its snapshots
	// With a retention policy (else both nil): promised restore points
	// missing, and the snapshots beyond which forget is not running.
	PointsMissing    *int64
	SnapshotsAllowed *int64
	// OldestBeyondPolicy: the oldest of the host's own snapshots (not its
	// jobs') is one forget would remove with twice its policy; nil when
	// its own snapshots have no policy.
	OldestBeyondPolicy *bool
}

// Result is one check of a repository.
type Result struct {
	At      time.Time
	ListErr error // the listing failed: nothing is known of the hosts
	Total   int64
	Hosts   map[string]HostView
	// Jobs are the hosts' snapshots tagged JobTag: host -> job -> view;
	// hosts without any are absent.
	Jobs   map[string]map[string]JobView
	Future int64 // snapshots from the future, all hosts
	// Undeclared lists the host names in the repository outside
	// Options.Declared, sorted; nil when no fleet is declared.
	Undeclared []string
	// OverLimit counts host names beyond MaxHosts: counted, not kept.
	OverLimit int64
	// JobsOverLimit counts snapshots of jobs beyond MaxJobsPerHost of
	// their host: counted in the host, in no job.
	JobsOverLimit int64
	// Locks, when they could be listed (LocksErr says why not).
	Locks    *Locks
	LocksErr error
	// Space: the repository's size and the free space under it.
	Space *Space
	// Data check, when one ran.
	DataChecked bool
	DataErr     error
	Subset      int // n of n/N that was read
	Subsets     int // N
}

// Options of a check.
type Options struct {
	Subsets int      // N; 0: no data check
	Expect  []string // hosts that must be in the repository (reported with 0 when absent)
	NoLock  bool     // restic check --no-lock (a read-only repository)
	NoSize  bool     // skip restic stats (the free space is still read)
	// SizeEvery: restic stats runs when the size last recorded is older
	// than this (0: at every check); a check within it keeps that size,
	// with its own time. See DefaultSizeEvery.
	SizeEvery time.Duration
	// Timeout bounds each restic call (DefaultTimeout when 0): a restic
	// that hangs is a failed check, never a check that never ends.
	Timeout time.Duration
	Now     func() time.Time
	// Declared is the fleet the config file declares (hosts:); when set,
	// host names in the repository outside it are counted as undeclared
	// (and PickCandidates keeps them from the restore-test rotation).
	Declared []string
	// Retention is the policy of a host's snapshots of job (its own: job
	// ""; a job's: tagged JobTag), the config file's retention:; nil or
	// false: none, nothing judged.
	Retention func(host, job string) (config.Policy, bool)
}

// DefaultTimeout bounds each restic call of a check: generous enough for
// restic check reading a subset of a large repository's data over a slow
// link.
const DefaultTimeout = 6 * time.Hour

// DefaultSizeEvery is repo-check's --size.interval, for a repository not
// on a local path: restic stats reads every snapshot again (as much CPU as
// the listing itself, on a large repository), so the size is measured at
// most every 6 hours. The alerts read a day's growth, which a size up to 6
// hours old still tells; with the shipped daily timer every check measures
// it. A local repository's size is its files' (SizeFiles), summed at every
// check.
const DefaultSizeEvery = 6 * time.Hour

// Check lists the repository and, when opts.Subsets > 0, reads the next
// subset of its data; old is the repository's record, for the rotation.
// It never fails: what went wrong is in the result, to be recorded.
func Check(ctx context.Context, repo restic.Repo, old map[string]any, opts Options) Result {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	res := Result{At: now()}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	call := func(f func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := f(cctx)
		if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("restic gave no answer within %v (--restic.timeout): %w", timeout, err)
		}
		return err
	}
	// The locks and the size are read beside the listing, each its own
	// restic: the check takes about as long as the slowest of them, not
	// their sum. Their results are dropped if the listing fails.
	var (
		wg       sync.WaitGroup
		locks    Locks
		locksErr error
		sp       Space
	)
	wg.Go(func() { locks, locksErr = readLocks(ctx, repo, call) })
	sized := !opts.NoSize
	// A local repository's files are summed at every check (cheap); only
	// restic stats is kept for SizeEvery.
	if kept, ok := keptSize(old, res.At, opts); ok && LocalPath(repo.Repository) == "" {
		sp, sized = kept, false
	}
	wg.Go(func() { sp = measure(ctx, repo, call, sized, sp) })
	res.Hosts = map[string]HostView{}
	for _, h := range opts.Expect {
		res.Hosts[h] = HostView{}
	}
	ahead := res.At.Add(MaxClockSkew)
	promises := map[part]*points{}
	// Each snapshot is taken in as restic's listing is decoded, never
	// held: memory is bounded by the hosts (and their jobs and policies'
	// periods), not the snapshots.
	// Host names already judged: a fleet's few names validated once, not
	// once per snapshot (bounded as the hosts are).
	valid := map[string]bool{}
	add := func(s restic.Snapshot) {
		h := s.Hostname
		ok, judged := valid[h]
		if !judged {
			ok = ValidateName(h) == nil
			if len(valid) < MaxHosts {
				valid[h] = ok
			}
		}
		if !ok {
			// A snapshot's host name is whatever its writer said: keep it
			// out of labels and keys unless it is a host name.
			h = "invalid-hostname"
		}
		v, ok := res.Hosts[h]
		if !ok && len(res.Hosts) >= MaxHosts {
			res.OverLimit++
			return
		}
		v.Snapshots++
		job := ""
		if h == s.Hostname {
			job = SnapshotJob(s.Tags)
		}
		if job != "" {
			jobs := res.Jobs[h]
			jv, ok := jobs[job]
			switch {
			case ok || len(jobs) < MaxJobsPerHost:
				if jobs == nil {
					jobs = map[string]JobView{}
					if res.Jobs == nil {
						res.Jobs = map[string]map[string]JobView{}
					}
					res.Jobs[h] = jobs
				}
				jv.add(s.Time, s.Time.After(ahead))
				jobs[job] = jv
			default:
				res.JobsOverLimit++
				job = "" // judged as the host's own
			}
		}
		switch {
		case s.Time.After(ahead):
			v.Future++
			res.Future++
		default:
			if s.Time.After(v.NewestTime) {
				v.NewestTime, v.NewestID = s.Time, s.ID
			}
			if v.OldestTime.IsZero() || s.Time.Before(v.OldestTime) {
				v.OldestTime = s.Time
			}
			if opts.Retention != nil && h == s.Hostname {
				k := part{h, job}
				pt, ok := promises[k]
				if !ok {
					if p, has := opts.Retention(h, job); has {
						pt = newPoints(p, res.At)
					}
					promises[k] = pt
				}
				if pt != nil {
					pt.add(s.Time)
				}
			}
		}
		res.Hosts[h] = v
	}
	err := call(func(ctx context.Context) (err error) {
		res.Total, err = repo.EachSnapshot(ctx, "", add)
		return err
	})
	wg.Wait()
	if err != nil {
		// Nothing is known of the hosts from a listing that failed, even
		// part way: the result says only that it failed.
		return Result{At: res.At, ListErr: err}
	}
	if len(opts.Declared) > 0 {
		names := make([]string, 0, len(res.Hosts))
		for h, v := range res.Hosts {
			if v.Snapshots > 0 {
				names = append(names, h)
			}
		}
		_, res.Undeclared = PickCandidates(names, opts.Declared)
		if res.Undeclared == nil {
			res.Undeclared = []string{} // judged: none
		}
	}
	judged := map[string]bool{}
	for k, pt := range promises {
		if pt == nil || judged[k.host] {
			continue
		}
		judged[k.host] = true
		v := res.Hosts[k.host]
		judge(k.host, &v, res.Jobs[k.host], promises)
		res.Hosts[k.host] = v
	}
	if locksErr != nil {
		res.LocksErr = locksErr
	} else {
		res.Locks = &locks
	}
	res.Space = &sp
	if opts.Subsets <= 0 {
		return res
	}
	res.DataChecked, res.Subsets = true, opts.Subsets
	res.Subset = nextSubset(Parse("", old), opts.Subsets)
	res.DataErr = call(func(ctx context.Context) error {
		return repo.CheckData(ctx, restic.CheckOptions{Subset: fmt.Sprintf("%d/%d", res.Subset, opts.Subsets), NoLock: opts.NoLock})
	})
	return res
}

// nextSubset is the subset to read now: the stored next one, or 1 when the
// rotation is new or its N changed.
func nextSubset(r Record, n int) int {
	if r.DataCheckOf != n || r.DataCheckNext < 1 || r.DataCheckNext > n {
		return 1
	}
	return r.DataCheckNext
}
