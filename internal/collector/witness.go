package collector

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/repocheck"
	"github.com/golemtrust/backupwatch/internal/status"
)

// The second witness: what was found from outside the hosts, kept in
// records beside theirs. A repository's own listing (repo-check) and the
// restore test of each host. The alerts compare them with what the hosts
// say (deploy/prometheus/backup.yml, group backup-witness).
var (
	repoUp = desc("backup_repository_up",
		"1 when the repository's last check could list its snapshots, 0 when it failed (backup_repository_check_failure_info says why).", "repository")
	repoCheckTS = desc("backup_repository_last_check_timestamp_seconds",
		"Time the repository was last checked (repo-check), listed or not.", "repository")
	repoListedTS = desc("backup_repository_last_success_timestamp_seconds",
		"Time the repository's snapshots were last listed: what the per-host series below show.", "repository")
	repoSnapshots = desc("backup_repository_snapshots",
		"Snapshots in the repository at its last listing.", "repository")
	repoHostSnapshots = desc("backup_repository_host_snapshots",
		"Snapshots of the host in the repository at its last listing; 0 for a host listed before, or expected (repo-check --host), with none.", "repository", "host")
	repoHostNewest = desc("backup_repository_host_newest_snapshot_timestamp_seconds",
		"Time of the host's newest snapshot in the repository at its last listing.", "repository", "host")
	repoHostOldest = desc("backup_repository_host_oldest_snapshot_timestamp_seconds",
		"Time of the host's oldest snapshot in the repository at its last listing: its oldest restore point.", "repository", "host")
	repoFuture = desc("backup_repository_future_snapshots",
		"Snapshots dated more than 5 minutes after the repository's last listing: taken as no host's newest (a clock ahead, or restic backup --time).", "repository")
	repoHostFuture = desc("backup_repository_host_future_snapshots",
		"Snapshots of the host dated more than 5 minutes after the repository's last listing; only for hosts that have some.", "repository", "host")
	repoSize = desc("backup_repository_size_bytes",
		"Bytes the repository takes at its last size measure: on a local path or a mount the sum of its files' sizes (what it takes of the disk, data forget left for prune included), elsewhere restic stats --mode raw-data (its snapshots' data as stored, deduplicated and compressed).", "repository")
	repoFree = desc("backup_repository_free_bytes",
		"Bytes free to the repository's writer on the file system under a local repository (a path or a mount) at its last check.", "repository")
	repoHostPointsMissing = desc("backup_repository_host_restore_points_missing",
		"Restore points the host's retention policy (config retention:) promises that the repository lacks: complete hours, days, weeks, months or years without a snapshot; only for hosts with a policy.", "repository", "host")
	repoHostAllowed = desc("backup_repository_host_snapshots_allowed",
		"Twice the snapshots the host's retention policy keeps: more means forget is not running; only for hosts with a policy.", "repository", "host")
	repoHostBeyond = desc("backup_repository_host_oldest_snapshot_beyond_policy",
		"1 when the oldest of the host's own snapshots (not its jobs') is one restic forget would remove with twice its retention policy's counts: forget is not running, or with another policy; 0 when it is kept; only for hosts with a policy.", "repository", "host")
	repoJobSnapshots = desc("backup_repository_job_snapshots",
		"Snapshots of the host's job (tagged backupwatch-job=<job>) in the repository at its last listing; also counted in backup_repository_host_snapshots.", "repository", "host", "backup_job")
	repoJobNewest = desc("backup_repository_job_newest_snapshot_timestamp_seconds",
		"Time of the newest snapshot of the host's job in the repository at its last listing: its newest restore point.", "repository", "host", "backup_job")
	repoJobOldest = desc("backup_repository_job_oldest_snapshot_timestamp_seconds",
		"Time of the oldest snapshot of the host's job in the repository at its last listing: its oldest restore point.", "repository", "host", "backup_job")
	repoJobPointsMissing = desc("backup_repository_job_restore_points_missing",
		"Restore points the job's retention policy (config retention: with job:) promises that the repository lacks; only for jobs with a policy. The host's series sums its jobs'.", "repository", "host", "backup_job")
	repoJobAllowed = desc("backup_repository_job_snapshots_allowed",
		"Twice the snapshots the job's retention policy keeps: more means forget is not running for it; only for jobs with a policy.", "repository", "host", "backup_job")
	repoJobBeyond = desc("backup_repository_job_oldest_snapshot_beyond_policy",
		"1 when the oldest snapshot of the host's job is one restic forget would remove with twice the job's retention policy's counts; 0 when it is kept; only for jobs with a policy.", "repository", "host", "backup_job")
	repoUndeclared = desc("backup_repository_undeclared_hosts",
		"Host names in the repository outside the fleet the config file declares (repo-check --config.file): never restore-tested; only when a fleet is declared.", "repository")
	repoLocks = desc("backup_repository_locks",
		"Locks in the repository at its last check, by kind (restic list locks; repo-check never removes one).", "repository", "exclusive")
	repoOldestLock = desc("backup_repository_oldest_lock_timestamp_seconds",
		"Time of the oldest lock of the kind in the repository (created or last refreshed: restic refreshes a live lock every 5 minutes), with the host and pid holding it.", "repository", "exclusive", "host", "pid")
	repoDataPassed = desc("backup_repository_data_check_passed",
		"1 when the last data check (restic check --read-data-subset) passed, 0 when it failed.", "repository")
	repoDataTS = desc("backup_repository_data_check_timestamp_seconds",
		"Time of the repository's last data check.", "repository")
	repoDataNext = desc("backup_repository_data_check_next_subset",
		"The subset n of n/N the next data check reads: the rotation's state.", "repository")
	repoDataOf = desc("backup_repository_data_check_subsets",
		"N: the repository's data is read once over N data checks.", "repository")
	repoFailureInfo = desc("backup_repository_check_failure_info",
		"Why the repository's last check could not list it (one line); only while it failed; always 1.", "repository", "message")
	repoDataFailureInfo = desc("backup_repository_data_check_failure_info",
		"The subset and what restic said, while the last data check failed; always 1.", "repository", "subset", "message")
	repoProblems = desc("backup_repository_record_problems",
		"Problems found in the repository's record.", "repository")

	hostRestoreTS = desc("backup_host_restore_test_timestamp_seconds",
		"Time of the last restore test of the host's backup (restore-test --host-tested).", "host")
	hostRestorePassed = desc("backup_host_restore_test_passed",
		"1 when the last restore test of the host's backup passed, 0 otherwise.", "host")
	hostRestoreFailureInfo = desc("backup_host_restore_test_failure_info",
		"What the host's last restore test recorded (its notes, one line), while it is not passed; always 1.", "host", "notes")

	checksStoreUp = desc("backupwatch_checks_store_up",
		"1 when the last refresh read every check record (repositories, restore tests per host), 0 otherwise.")
)

// Source is what the witness collector reads: one folder of records.
type Source interface {
	List(ctx context.Context) ([]string, error)
	Get(ctx context.Context, key string) (map[string]any, error)
}

// WitnessOptions configure a Witness.
type WitnessOptions struct {
	Repositories Source // repo-check's records
	RestoreTests Source // restore tests per host
	Timeout      time.Duration
	Logger       *slog.Logger
}

// Witness is a collector of the check records, refreshed in the
// background like Collector; it keeps the last values when the store
// fails.
type Witness struct {
	opts WitnessOptions
	log  *slog.Logger

	mu    sync.RWMutex
	read  bool
	up    bool
	repos []repocheck.Record
	tests map[string]status.RestoreTest
}

var _ prometheus.Collector = (*Witness)(nil)

// NewWitness returns a witness collector that has not refreshed yet.
func NewWitness(o WitnessOptions) *Witness {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Witness{opts: o, log: o.Logger}
}

// witnessWorkers bounds concurrent reads of one refresh.
const witnessWorkers = 4

// readAll reads every record of src; ok is false when the store failed.
func readAll(ctx context.Context, src Source) (map[string]map[string]any, error) {
	keys, err := src.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]any, len(keys))
	var (
		mu   sync.Mutex
		fail error
		wg   sync.WaitGroup
	)
	work := make(chan string)
	for range witnessWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				data, err := src.Get(ctx, k)
				mu.Lock()
				switch {
				case err == nil:
					out[k] = data
				case errors.Is(err, status.ErrNotFound):
				case errors.Is(err, status.ErrMalformed):
					out[k] = map[string]any{}
				default:
					if fail == nil {
						fail = err
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		if len(k) > 0 && k[len(k)-1] == '/' {
			continue // a folder: not a record
		}
		work <- k
	}
	close(work)
	wg.Wait()
	return out, fail
}

// Refresh reads every check record once and reports whether it read them all.
func (w *Witness) Refresh(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	up := true
	var repos []repocheck.Record
	reposOK := false
	if w.opts.Repositories != nil {
		docs, err := readAll(ctx, w.opts.Repositories)
		if err != nil {
			up = false
			w.warn("repository check records not read; keeping the last ones", err)
		} else {
			reposOK = true
			get := func(key string) (map[string]any, bool) { d, ok := docs[key]; return d, ok }
			for name, d := range docs {
				if repocheck.ValidateName(name) != nil {
					continue // a shard of a repository's hosts, or not a record of ours
				}
				repos = append(repos, repocheck.Parse(name, repocheck.Assemble(name, d, get)))
			}
			sort.Slice(repos, func(i, j int) bool { return repos[i].Name < repos[j].Name })
		}
	}
	var tests map[string]status.RestoreTest
	testsOK := false
	if w.opts.RestoreTests != nil {
		docs, err := readAll(ctx, w.opts.RestoreTests)
		if err != nil {
			up = false
			w.warn("per-host restore test records not read; keeping the last ones", err)
		} else {
			testsOK = true
			tests = make(map[string]status.RestoreTest, len(docs))
			for h, d := range docs {
				if status.ValidateHost(h) != nil {
					continue
				}
				tests[h] = status.ParseRestoreTest(d)
			}
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.read, w.up = true, up
	if reposOK {
		w.repos = repos
	}
	if testsOK {
		w.tests = tests
	}
	return up
}

// warn logs a read failure once while it lasts (then at debug level), as
// Collector does: a policy without the checks prefix must not fill the log.
func (w *Witness) warn(msg string, err error) {
	w.mu.RLock()
	wasUp := !w.read || w.up
	w.mu.RUnlock()
	if wasUp {
		w.log.Warn(msg, "err", err)
	} else {
		w.log.Debug(msg, "err", err)
	}
}

// Run refreshes at once and then every interval until ctx is done.
func (w *Witness) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	every(ctx, interval, RetryFirst, w.Refresh)
}

// Describe sends every family's description.
func (w *Witness) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{repoUp, repoCheckTS, repoListedTS, repoSnapshots, repoHostSnapshots, repoHostNewest,
		repoHostOldest, repoFuture, repoHostFuture, repoLocks, repoOldestLock, repoSize, repoFree, repoHostPointsMissing, repoHostAllowed, repoHostBeyond, repoUndeclared,
		repoJobSnapshots, repoJobNewest, repoJobOldest, repoJobPointsMissing, repoJobAllowed, repoJobBeyond,
		repoDataPassed, repoDataTS, repoDataNext, repoDataOf, repoFailureInfo, repoDataFailureInfo, repoProblems,
		hostRestoreTS, hostRestorePassed, hostRestoreFailureInfo, checksStoreUp} {
		ch <- d
	}
}

// Collect sends what the last refresh read.
func (w *Witness) Collect(ch chan<- prometheus.Metric) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ts := func(t time.Time) float64 { return float64(t.Unix()) }
	if !w.read {
		return
	}
	g(checksStoreUp, float64(boolInt(w.up)))
	for i := range w.repos {
		r := &w.repos[i]
		name := r.Name
		g(repoProblems, float64(len(r.Problems)), name)
		if r.Status == status.Unknown {
			continue
		}
		g(repoUp, float64(boolInt(r.Status == status.Success)), name)
		if r.Status == status.Failed {
			g(repoFailureInfo, 1, name, InfoText(r.Message))
		}
		if !r.CheckedAt.IsZero() {
			g(repoCheckTS, ts(r.CheckedAt), name)
		}
		if !r.LastSuccess.IsZero() {
			g(repoListedTS, ts(r.LastSuccess), name)
		}
		if r.Snapshots != nil {
			g(repoSnapshots, float64(*r.Snapshots), name)
			g(repoFuture, float64(r.Future), name)
		}
		for h, v := range r.Hosts {
			g(repoHostSnapshots, float64(v.Snapshots), name, h)
			if !v.NewestTime.IsZero() {
				g(repoHostNewest, float64(v.NewestTime.UnixMilli())/1e3, name, h)
			}
			if !v.OldestTime.IsZero() {
				g(repoHostOldest, float64(v.OldestTime.UnixMilli())/1e3, name, h)
			}
			if v.Future > 0 {
				g(repoHostFuture, float64(v.Future), name, h)
			}
			if v.PointsMissing != nil && v.SnapshotsAllowed != nil {
				g(repoHostPointsMissing, float64(*v.PointsMissing), name, h)
				g(repoHostAllowed, float64(*v.SnapshotsAllowed), name, h)
			}
			if v.OldestBeyondPolicy != nil {
				g(repoHostBeyond, one(*v.OldestBeyondPolicy), name, h)
			}
		}
		for h, jobs := range r.Jobs {
			for job, v := range jobs {
				g(repoJobSnapshots, float64(v.Snapshots), name, h, job)
				if !v.NewestTime.IsZero() {
					g(repoJobNewest, float64(v.NewestTime.UnixMilli())/1e3, name, h, job)
				}
				if !v.OldestTime.IsZero() {
					g(repoJobOldest, float64(v.OldestTime.UnixMilli())/1e3, name, h, job)
				}
				if v.PointsMissing != nil && v.SnapshotsAllowed != nil {
					g(repoJobPointsMissing, float64(*v.PointsMissing), name, h, job)
					g(repoJobAllowed, float64(*v.SnapshotsAllowed), name, h, job)
				}
				if v.OldestBeyondPolicy != nil {
					g(repoJobBeyond, one(*v.OldestBeyondPolicy), name, h, job)
				}
			}
		}
		if r.Undeclared != nil {
			g(repoUndeclared, float64(*r.Undeclared), name)
		}
		if r.Space.Size != nil {
			g(repoSize, float64(*r.Space.Size), name)
		}
		if r.Space.Free != nil {
			g(repoFree, float64(*r.Space.Free), name)
		}
		if l := r.Locks; l != nil {
			for _, k := range []struct {
				exclusive string
				n         int
				oldest    *repocheck.LockView
			}{{"true", l.Exclusive, l.OldestExclusive}, {"false", l.Shared, l.OldestShared}} {
				g(repoLocks, float64(k.n), name, k.exclusive)
				if k.oldest != nil {
					g(repoOldestLock, float64(k.oldest.Time.Unix()), name, k.exclusive, k.oldest.Host, strconv.Itoa(k.oldest.PID))
				}
			}
		}
		if r.DataCheck != "" {
			g(repoDataPassed, float64(boolInt(r.DataCheck == status.Passed)), name)
			if r.DataCheck == status.Failed {
				g(repoDataFailureInfo, 1, name, InfoText(r.DataSubset), InfoText(r.DataMessage))
			}
		}
		if !r.DataCheckAt.IsZero() {
			g(repoDataTS, ts(r.DataCheckAt), name)
		}
		if r.DataCheckOf > 0 {
			g(repoDataNext, float64(r.DataCheckNext), name)
			g(repoDataOf, float64(r.DataCheckOf), name)
		}
	}
	for h, rt := range w.tests {
		if !rt.LastTest.IsZero() {
			g(hostRestoreTS, ts(rt.LastTest), h)
		}
		g(hostRestorePassed, float64(boolInt(rt.Passed())), h)
		if !rt.Passed() {
			g(hostRestoreFailureInfo, 1, h, InfoText(rt.Notes))
		}
	}
}

// Repositories returns the repositories' records as last read, for the
// status page; nil before the first refresh.
func (w *Witness) Repositories() []repocheck.Record {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.repos
}

// RestoreTests returns the last restore test of each host, for
// `restore-test run --pick oldest` and the status page.
func (w *Witness) RestoreTests() map[string]status.RestoreTest {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.tests
}

// one is a judgement as a gauge: 1 or 0.
func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
