// Package collector exports the fleet's backup status records as Prometheus
// metrics, from a snapshot that a background refresher keeps up to date.
package collector

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

var _ prometheus.Collector = (*Collector)(nil)

// Options configure a Collector. Zero values take the defaults below.
type Options struct {
	Source   fleet.Source
	Expected []string        // hosts exported even when they have no record
	Jobs     []status.JobID  // jobs exported even when they have no record
	Schedule fleet.Scheduler // central schedules (the config file); nil for none
	Labels   Labeler         // hosts' labels (the config file); nil for none
	Workers  int             // concurrent reads per refresh
	Timeout  time.Duration   // deadline of one whole refresh
	// NudgeRate bounds rereads for nudges, per second (nudge.go);
	// DefaultNudgeRate if zero.
	NudgeRate float64
	// SavedFile, when set, is where the snapshot is saved and, at the
	// start, read from (saved.go); StoreName names the store, so that a
	// snapshot of another is never exported.
	SavedFile, StoreName string
	// HostSeries is HostSeriesAll (the default when empty) or
	// HostSeriesAlerting (series.go).
	HostSeries string
	Logger     *slog.Logger
	Now        func() time.Time

	// Escalation is the hosts' and jobs' page_after (the config file);
	// nil for none.
	Escalation Escalations
}

// Defaults, in one place.
const (
	DefaultWorkers = 8
	// DefaultInterval is the full refresh: slow, because record and run
	// nudge serve to reread the host they wrote (nudge.go). Every 15
	// minutes is 96 reads per host per day, the runbook's script read
	// 192; a lost nudge delays a new value by at most this.
	DefaultInterval = 15 * time.Minute
	// DefaultTimeout bounds a refresh when none is given; serve sets it to
	// the refresh interval so that refreshes never pile up.
	DefaultTimeout = 60 * time.Second
)

// Collector is a prometheus.Collector over the latest fleet snapshot. Ages
// are computed from timestamps at scrape time, so they keep growing while
// the store is unreachable.
type Collector struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time

	refreshMu sync.Mutex // one refresh at a time

	mu           sync.RWMutex // guards what follows
	snap         *fleet.Snapshot
	refreshes    uint64
	failures     uint64
	afterRefresh func() // set by NewHandler
	// gen counts the snapshots published; changes are the hosts each
	// nudge changed since allGen, the last one that changed them all (a
	// full refresh), so that the handler encodes again only theirs.
	gen, allGen uint64
	changes     []change
	fromDisk    bool // the snapshot is the saved one, not confirmed by a refresh yet
	// savedGen is the gen of the snapshot last saved or loaded: a
	// generation, not the snapshot, so that an old snapshot is not kept
	// alive beside the new one until the new one is saved.
	savedGen uint64
	saveReq  chan struct{} // nil when no snapshot is saved
	loadOnce sync.Once

	nudges *nudges
}

// New returns a collector that has not refreshed yet.
func New(opts Options) *Collector {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Collector{opts: opts, log: opts.Logger, now: opts.Now, nudges: newNudges()}
	if opts.SavedFile != "" {
		c.saveReq = make(chan struct{}, 1)
	}
	return c
}

// State is what the collector knows, for the status page.
type State struct {
	Snapshot  *fleet.Snapshot // nil before the first refresh
	Refreshes uint64
	Failures  uint64
	// FromDisk is set while Snapshot is the one saved before a restart,
	// not yet confirmed by a refresh that reached the store; Saving when
	// snapshots are saved at all.
	FromDisk, Saving bool
}

// StoreUp reports whether the last refresh reached the store completely.
func (s State) StoreUp() bool { return s.Snapshot != nil && s.Snapshot.Err == nil }

// State returns the latest snapshot and counters.
func (c *Collector) State() State {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stateLocked()
}

func (c *Collector) stateLocked() State {
	return State{Snapshot: c.snap, Refreshes: c.refreshes, Failures: c.failures, FromDisk: c.fromDisk, Saving: c.saveReq != nil}
}

// Ready reports whether a first refresh has been attempted, successful or not.
func (c *Collector) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.snap != nil
}

// Refresh reads every record once and makes the result the snapshot that
// scrapes see. When the store fails, the previous values are kept (see
// fleet.Load) and the failure shows in the self-health metrics.
func (c *Collector) Refresh(ctx context.Context) *fleet.Snapshot {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()

	prev := c.State().Snapshot
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	snap := fleet.Load(rctx, c.opts.Source, fleet.Options{Expected: c.opts.Expected, Jobs: c.opts.Jobs, Schedules: c.opts.Schedule, Workers: c.opts.Workers, Now: c.now}, prev)
	if snap.Err != nil && ctx.Err() != nil {
		// Stopped (serve shutting down), not failed: the store is not to
		// blame, and scrapes keep the last snapshot until the end.
		return snap
	}
	// prev is not used past this point, so it is garbage while the new
	// snapshot is encoded: two snapshots of the fleet held at once were
	// most of serve's peak memory.
	prevFailed := prev != nil && prev.Err != nil

	c.mu.Lock()
	c.publish(snap, nil, true)
	c.refreshes++
	if snap.Err != nil {
		c.failures++
	} else {
		c.fromDisk = false
	}
	after := c.afterRefresh
	c.mu.Unlock()
	if after != nil {
		after()
	}
	c.requestSave()

	switch {
	case snap.Err != nil && !prevFailed:
		c.log.Warn("store not reached; keeping the last known records", "err", snap.Err, "hosts_known", snap.Hosts.Len())
	case snap.Err != nil:
		c.log.Debug("store still not reached", "err", snap.Err)
	case prevFailed:
		c.log.Info("store reached again", "hosts", snap.Hosts.Len(), "duration", snap.Duration)
	default:
		c.log.Debug("refreshed", "hosts", snap.Hosts.Len(), "duration", snap.Duration)
	}
	return snap
}

// change is the hosts a snapshot changed.
type change struct {
	gen   uint64
	hosts []string
}

// maxChanges bounds the changes kept; a handler further behind encodes
// every host again.
const maxChanges = 4096

// publish makes snap the snapshot that scrapes see; it changed the records
// of hosts, or all of them. c.mu is held.
func (c *Collector) publish(snap *fleet.Snapshot, hosts []string, all bool) {
	c.snap = snap
	c.gen++
	if all {
		c.changes, c.allGen = c.changes[:0], c.gen
		return
	}
	c.changes = append(c.changes, change{c.gen, hosts})
	if len(c.changes) > maxChanges {
		c.allGen = c.changes[0].gen
		c.changes = slices.Delete(c.changes, 0, 1)
	}
}

// changesSince returns the state, its generation, and the hosts changed
// since generation gen, or all set when that is not known (a full
// refresh since, or too far behind).
func (c *Collector) changesSince(gen uint64) (st State, now uint64, hosts map[string]bool, all bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	st = c.stateLocked()
	if gen < c.allGen {
		return st, c.gen, nil, true
	}
	hosts = map[string]bool{}
	for _, ch := range c.changes {
		if ch.gen > gen {
			for _, h := range ch.hosts {
				hosts[h] = true
			}
		}
	}
	return st, c.gen, hosts, false
}

// Run refreshes at once and then every interval until ctx is done. A
// refresh that takes longer than the interval is followed by the next at
// once, never by two at a time.
func (c *Collector) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if c.saveReq != nil {
		c.LoadSaved()
		saved := make(chan struct{})
		go func() {
			defer close(saved)
			c.runSaves(ctx)
		}()
		defer func() { <-saved }() // the last save, once ctx is done
	}
	go c.runNudges(ctx)
	every(ctx, interval, RetryFirst, func(ctx context.Context) bool { return c.Refresh(ctx).Err == nil })
}

// RetryFirst is how long after a failed refresh the next one starts; the
// wait doubles after each failure in a row, up to the interval. Without
// it, one refresh that met a Vault fail-over (the seconds with no active
// node) or restart would keep backupwatch_store_up at 0 for a whole
// interval, 15 minutes by default: as long as BackupStoreUnreachable's
// `for`, which it could then meet.
const RetryFirst = 5 * time.Second

// every calls refresh at once and then every interval until ctx is done;
// one that takes longer than the interval is followed by the next at once,
// never by two at a time. After a failed refresh (refresh returns false)
// the next comes retry later, doubling while they keep failing, never
// later than the interval.
func every(ctx context.Context, interval, retry time.Duration, refresh func(context.Context) bool) {
	t := time.NewTimer(0)
	defer t.Stop()
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		if refresh(ctx) {
			backoff = 0
			t.Reset(max(0, interval-time.Since(start)))
			continue
		}
		backoff = min(max(retry, 2*backoff), interval)
		t.Reset(max(0, min(backoff, interval-time.Since(start))))
	}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// restoreResults are the values of backup_restore_test_result{result}.
var restoreResults = []string{status.Passed, status.Failed, status.Unknown}

// Collect sends the metrics of the latest snapshot, ages as of now.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.State()
	collectSnapshot(ch, st, c.opts.Labels, c.opts.Escalation, nil, c.opts.HostSeries)
	collectAges(ch, st.Snapshot, c.now(), nil)
}

// ageDescs are the families that change between refreshes: the ages,
// computed at each scrape. Everything else changes only with the snapshot.
var ageDescs = []*prometheus.Desc{lastSuccessAge, restoreTestAge}

// sender returns what collectAges and collectSnapshot send metrics with:
// to ch, of every family when only is nil, else of that one family alone,
// so that the handler can encode one family at a time without building
// the others' metrics (see encodeFamily).
func sender(ch chan<- prometheus.Metric, only *prometheus.Desc) func(*prometheus.Desc, prometheus.ValueType, float64, ...string) {
	return func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		if only == nil || family(d) == only { // a job's series is in its host family (see jobs.go)
			ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
		}
	}
}

// collectSnapshot sends everything but the ages: what st holds, unchanged
// until the next refresh; only the metrics of family only when it is not
// nil. Send every metric through g or send, so that the filter applies.
func collectSnapshot(ch chan<- prometheus.Metric, st State, labels Labeler, esc Escalations, only *prometheus.Desc, hostSeries string) {
	send := sender(ch, only)
	collectFleet(send, st)
	if st.Snapshot != nil {
		collectHosts(hostGauge(send, hostSeries), st.Snapshot, labels, esc)
	}
}

// collectFleet sends the series that are not a host's: the exporter's own
// and the restore tests'. The handler encodes them whole at each change,
// and the hosts' a block of hosts at a time (blocks.go).
func collectFleet(send func(*prometheus.Desc, prometheus.ValueType, float64, ...string), st State) {
	g := func(d *prometheus.Desc, v float64, labels ...string) { send(d, prometheus.GaugeValue, v, labels...) }
	send(refreshesTotal, prometheus.CounterValue, float64(st.Refreshes))
	send(refreshFailuresTotal, prometheus.CounterValue, float64(st.Failures))
	snap := st.Snapshot
	if snap == nil {
		// No refresh attempted yet (serve is starting): whether the store
		// can be read is not known, and 0 would say it cannot.
		return
	}
	collectSaved(send, st)
	if !st.FromDisk || st.Refreshes > 0 {
		// Not known before the first refresh is over.
		g(storeUp, float64(boolInt(st.StoreUp())))
	}
	if !snap.LastSuccess.IsZero() {
		g(lastRefreshSuccess, float64(snap.LastSuccess.UnixMilli())/1e3)
	}
	g(refreshDuration, snap.Duration.Seconds())
	g(hostsGauge, float64(snap.Hosts.Len()))
	g(storeProblems, float64(len(snap.Problems)))
	if rt := snap.RestoreTest; rt != nil {
		collectRestoreTest(g, rt)
	}
	for i := range snap.RestoreTestJobs {
		rt := &snap.RestoreTestJobs[i]
		collectRestoreTest(restoreJobGauge(g, labelValue(rt.Job)), rt)
	}
}

// collectRestoreTest sends a restore test's series.
func collectRestoreTest(g func(*prometheus.Desc, float64, ...string), rt *status.RestoreTest) {
	ts := func(t time.Time) float64 { return float64(t.Unix()) }
	if !rt.LastTest.IsZero() {
		g(restoreTestTS, ts(rt.LastTest))
	}
	g(restoreTestPassed, float64(boolInt(rt.Passed())))
	for _, res := range restoreResults {
		g(restoreTestResult, float64(boolInt(rt.Result == res)), res)
	}
	if rt.TimeToRestoreMinutes != nil {
		g(restoreTestTime, *rt.TimeToRestoreMinutes*60)
	}
	if rt.HostTested != "" {
		g(restoreTestInfo, 1, labelValue(rt.HostTested))
	}
	collectRestoreAlerting(g, rt)
}

func optInt(gauge func(*prometheus.Desc, float64, ...string), d *prometheus.Desc, v *int64, labels ...string) {
	if v != nil {
		gauge(d, float64(*v), labels...)
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
