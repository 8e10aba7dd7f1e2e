package collector

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/fleet"
)

// Nudges: `record` and `run` tell serve (POST /-/nudge?host=H) that they
// have just written host H's record, and serve reads that one record again
// within a second instead of waiting for the next full refresh. So the full
// refresh can be slow (DefaultInterval, 15 minutes: 96 reads per host per
// day, against the runbook's 192) while a new failure still reaches
// /metrics within seconds. A nudge carries nothing but a host name and
// causes one read, so it needs no credentials: at worst an unauthenticated
// caller makes serve read records it would read anyway, and that is bounded:
// nudges for one host coalesce while they wait, at most MaxPendingNudges
// hosts wait (more are dropped), and reads for nudges are limited to
// NudgeRate a second (burst NudgeBurst). A lost or dropped nudge only
// delays the host's new value until the next full refresh; it never hides
// it.

// Nudge defaults.
const (
	DefaultNudgeRate = 10.0 // reads per second for nudges
	NudgeBurst       = 100
	MaxPendingNudges = 10000
)

// nudges is the state of the nudge queue.
type nudges struct {
	mu      sync.Mutex
	pending map[string]bool
	order   []string
	wake    chan struct{}
	tokens  float64
	last    time.Time

	requests  *prometheus.CounterVec // by result
	reads     prometheus.Counter
	readFails prometheus.Counter
}

func newNudges() *nudges {
	return &nudges{
		pending: map[string]bool{},
		wake:    make(chan struct{}, 1),
		tokens:  NudgeBurst,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backupwatch_nudges_total",
			Help: "Nudges received (record/run asking for a host to be read again), by result: queued, coalesced (already waiting), dropped (queue full).",
		}, []string{"result"}),
		reads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backupwatch_nudge_reads_total",
			Help: "Hosts read again because of a nudge, between full refreshes.",
		}),
		readFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backupwatch_nudge_read_failures_total",
			Help: "Nudged rereads the store did not answer (the next full refresh reads those hosts anyway).",
		}),
	}
}

// Nudge asks for host's records to be read again soon. It returns false
// when the queue is full (the nudge is dropped; the next full refresh
// reads the host anyway). It never blocks.
func (c *Collector) Nudge(host string) bool {
	n := c.nudges
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.pending[host]:
		n.requests.WithLabelValues("coalesced").Inc()
		return true
	case len(n.order) >= MaxPendingNudges:
		n.requests.WithLabelValues("dropped").Inc()
		return false
	}
	n.pending[host] = true
	n.order = append(n.order, host)
	n.requests.WithLabelValues("queued").Inc()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	return true
}

// NudgeMetrics are the nudge queue's own metrics, for serve's registry.
func (c *Collector) NudgeMetrics() []prometheus.Collector {
	return []prometheus.Collector{c.nudges.requests, c.nudges.reads, c.nudges.readFails}
}

// take removes up to what the rate allows from the queue.
func (n *nudges) take(now time.Time, rate float64) (hosts []string, wait time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.last.IsZero() {
		n.tokens = min(NudgeBurst, n.tokens+now.Sub(n.last).Seconds()*rate)
	}
	n.last = now
	k := min(len(n.order), int(n.tokens))
	if k == 0 && len(n.order) > 0 {
		return nil, time.Duration((1 - n.tokens) / rate * float64(time.Second))
	}
	hosts = slices.Clone(n.order[:k])
	n.order = slices.Delete(n.order, 0, k)
	for _, h := range hosts {
		delete(n.pending, h)
	}
	n.tokens -= float64(k)
	return hosts, 0
}

// runNudges rereads nudged hosts until ctx is done.
func (c *Collector) runNudges(ctx context.Context) {
	n := c.nudges
	rate := c.opts.NudgeRate
	if rate <= 0 {
		rate = DefaultNudgeRate
	}
	for {
		hosts, wait := n.take(time.Now(), rate)
		if len(hosts) == 0 {
			var timer <-chan time.Time
			if wait > 0 {
				timer = time.After(wait)
			}
			select {
			case <-ctx.Done():
				return
			case <-n.wake:
			case <-timer:
			}
			continue
		}
		// Each reread re-encodes /metrics for the whole fleet (about a
		// second per 10,000 hosts on a busy 2-core machine): nudges
		// arriving meanwhile wait twice as long as it took and are read
		// together, so encoding takes at most a third of the time
		// whatever the nudge rate, and a nudge waits a few encodes at most.
		t0 := time.Now()
		c.reread(ctx, hosts)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Since(t0)):
		}
	}
}

// reread reads hosts again and serves the result, between full refreshes
// (never during one: a full refresh that read a host before its write is
// followed by this reread, which reads it after).
func (c *Collector) reread(ctx context.Context, hosts []string) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	prev := c.State().Snapshot
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	snap, err := fleet.Reread(rctx, c.opts.Source, fleet.Options{Expected: c.opts.Expected, Jobs: c.opts.Jobs, Schedules: c.opts.Schedule, Workers: c.opts.Workers, Now: c.now}, prev, hosts)
	if err != nil {
		c.nudges.readFails.Add(float64(len(hosts)))
		c.log.Debug("nudged reread failed; the next full refresh reads these hosts", "hosts", len(hosts), "err", err)
		return
	}
	c.nudges.reads.Add(float64(len(hosts)))
	c.mu.Lock()
	c.snap = snap
	after := c.afterRefresh
	c.mu.Unlock()
	if after != nil {
		after()
	}
}
