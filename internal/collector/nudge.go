package collector

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Nudges: `record`, `run` and `restore-test` tell serve (POST
// /-/nudge?host=H[&job=J]) that they have just written a record, and serve
// reads that record again within a second instead of waiting for the next
// full refresh. So the full refresh can be slow (DefaultInterval, 15
// minutes: 96 reads per host per day, against the runbook's 192) while a
// new failure still reaches /metrics within seconds. A nudge carries
// nothing but a record's name and causes a read, so it needs no
// credentials of its own (serve's basic auth, when set, covers it): at
// worst a caller makes serve read, and that is bounded.
//
// Nudges wait per client (IP address, IPv6 /64: nudge.Client), so that
// nobody who reaches the port can delay a real host, in two queues:
//   - records the snapshot holds (the fleet's hosts, jobs and restore
//     tests), at most MaxKnownPerClient per client;
//   - records it does not hold yet (a new host's or job's first result, the
//     first restore test, or names made up by a flood), at most
//     MaxPendingPerClient per client, read only when no known record
//     waits.
//
// Each queue is read one client after another, so a flood from one client
// (30,000 made-up names, or every known name) fills that client's own
// places, more get 503, and delays another client's record by one read per
// flooding client. A nudge coalesces with the same client's waiting one
// for the record, never with another client's, which could be far back in
// a flood. At most MaxNudgeClients clients wait in each queue.
//
// Reads for nudges are limited to NudgeRate a second (burst NudgeBurst;
// a host's nudge reads its known jobs too and pays for them), and a read
// that changes nothing (a name with no record) publishes nothing. A lost
// or dropped nudge only delays the record's new value until the next full
// refresh; it never hides it.

// Nudge defaults.
const (
	DefaultNudgeRate    = 10.0 // reads per second for nudges
	NudgeBurst          = 100
	MaxKnownPerClient   = 256  // records the snapshot holds, waiting per client
	MaxPendingPerClient = 32   // records it does not hold, waiting per client
	MaxNudgeClients     = 1024 // clients waiting in each queue
)

// lane is one queue of nudges: a queue per client, read a client at a time.
type lane struct {
	max     int // per client
	queues  map[string][]status.JobID
	clients []string // with nudges waiting, in turn
	n       int
}

func newLane(max int) *lane { return &lane{max: max, queues: map[string][]status.JobID{}} }

// push queues id for client, or reports that its places are taken.
func (l *lane) push(client string, id status.JobID) bool {
	q := l.queues[client]
	if len(q) >= l.max || len(q) == 0 && len(l.clients) >= MaxNudgeClients {
		return false
	}
	if len(q) == 0 {
		l.clients = append(l.clients, client)
	}
	l.queues[client] = append(q, id)
	l.n++
	return true
}

// pop takes the next client's first nudge; l.n must be above 0.
func (l *lane) pop() (string, status.JobID) {
	cl := l.clients[0]
	l.clients = l.clients[1:]
	q := l.queues[cl]
	id := q[0]
	l.n--
	if len(q) > 1 {
		l.queues[cl] = q[1:]
		l.clients = append(l.clients, cl)
	} else {
		delete(l.queues, cl)
	}
	return cl, id
}

// pendingKey is a nudge waiting: coalesced per client.
type pendingKey struct {
	client string
	id     status.JobID
}

// nudges is the state of the nudge queues.
type nudges struct {
	mu      sync.Mutex
	pending map[pendingKey]bool
	known   *lane // records the snapshot holds
	fresh   *lane // records it does not hold
	wake    chan struct{}
	tokens  float64
	last    time.Time
	reading int // batches taken and not yet read

	requests  *prometheus.CounterVec // by result
	waiting   *prometheus.GaugeVec   // by queue
	reads     prometheus.Counter
	readFails prometheus.Counter
}

func newNudges() *nudges {
	return &nudges{
		pending: map[pendingKey]bool{},
		known:   newLane(MaxKnownPerClient),
		fresh:   newLane(MaxPendingPerClient),
		wake:    make(chan struct{}, 1),
		tokens:  NudgeBurst,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backupwatch_nudges_total",
			Help: "Nudges received (record/run asking for a record to be read again), by result: queued, coalesced (already waiting), dropped (queue full).",
		}, []string{"result"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "backupwatch_nudges_waiting",
			Help: "Nudged records waiting to be read, by queue: known (records the exporter holds) or new (records it does not hold yet, bounded per client).",
		}, []string{"queue"}),
		reads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backupwatch_nudge_reads_total",
			Help: "Records read again because of a nudge, between full refreshes (a host's nudge reads its jobs too).",
		}),
		readFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "backupwatch_nudge_read_failures_total",
			Help: "Nudged rereads the store did not answer (the next full refresh reads those records anyway).",
		}),
	}
}

// Nudge asks for the record id to be read again soon, on behalf of client
// (see nudge.Client). It returns false when its queue is full (the nudge is
// dropped; the next full refresh reads the record anyway). It never blocks.
func (c *Collector) Nudge(client string, id status.JobID) bool {
	known := holds(c.State().Snapshot, id)
	n := c.nudges
	n.mu.Lock()
	defer n.mu.Unlock()
	key := pendingKey{client, id}
	l := n.fresh
	if known {
		l = n.known
	}
	switch {
	case n.pending[key]:
		n.requests.WithLabelValues("coalesced").Inc()
		return true
	case !l.push(client, id):
		n.requests.WithLabelValues("dropped").Inc()
		return false
	}
	n.pending[key] = true
	n.requests.WithLabelValues("queued").Inc()
	n.gauges()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	return true
}

// gauges sets the waiting gauges; n.mu is held.
func (n *nudges) gauges() {
	n.waiting.WithLabelValues("known").Set(float64(n.known.n))
	n.waiting.WithLabelValues("new").Set(float64(n.fresh.n))
}

// holds reports whether snap holds the record id: a host's own record, a
// host known through its jobs only (a host-wide nudge), a job's, or a
// restore test's.
func holds(snap *fleet.Snapshot, id status.JobID) bool {
	if snap == nil {
		return false
	}
	if id.Host == status.RestoreTestKey {
		if id.Job == "" {
			return snap.RestoreTest != nil
		}
		_, ok := slices.BinarySearchFunc(snap.RestoreTestJobs, id.Job, func(rt status.RestoreTest, job string) int { return strings.Compare(rt.Job, job) })
		return ok
	}
	i, ok := snap.Jobs.Search(id)
	if id.Job != "" {
		return ok
	}
	if i < snap.Jobs.Len() && snap.Jobs.At(i).Host == id.Host {
		return true
	}
	_, ok = snap.Hosts.Search(id)
	return ok
}

// NudgeMetrics are the nudge queue's own metrics, for serve's registry.
func (c *Collector) NudgeMetrics() []prometheus.Collector {
	return []prometheus.Collector{c.nudges.requests, c.nudges.waiting, c.nudges.reads, c.nudges.readFails}
}

// take removes up to what the rate allows from the queues: known records
// first, then new ones, each a client at a time.
func (n *nudges) take(now time.Time, rate float64) (ids []status.JobID, wait time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.last.IsZero() {
		n.tokens = min(NudgeBurst, n.tokens+now.Sub(n.last).Seconds()*rate)
	}
	n.last = now
	waiting := n.known.n + n.fresh.n
	k := min(waiting, max(0, int(n.tokens)))
	if k == 0 && waiting > 0 {
		return nil, time.Duration((1 - n.tokens) / rate * float64(time.Second))
	}
	seen := map[status.JobID]bool{}
	for range k {
		l := n.known
		if l.n == 0 {
			l = n.fresh
		}
		cl, id := l.pop()
		delete(n.pending, pendingKey{cl, id})
		if !seen[id] { // nudged by two clients: one read
			seen[id] = true
			ids = append(ids, id)
		}
	}
	n.tokens -= float64(len(ids))
	if len(ids) > 0 {
		n.reading++
	}
	n.gauges()
	return ids, 0
}

// NudgesIdle reports whether no nudge waits and none is being read: every
// nudge so far has been served (or its read failed).
func (c *Collector) NudgesIdle() bool {
	n := c.nudges
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.known.n+n.fresh.n == 0 && n.reading == 0
}

// charge takes k more tokens, for reads beyond one per nudge; the tokens
// may go below zero, and take then waits until they are paid back.
func (n *nudges) charge(k int) {
	if k <= 0 {
		return
	}
	n.mu.Lock()
	n.tokens -= float64(k)
	n.mu.Unlock()
}

// readCost is how many records fleet.Reread reads for ids: one each, and
// for a host's nudge ({host, ""}) one more per job of the host prev holds.
func readCost(prev *fleet.Snapshot, ids []status.JobID) int {
	k := len(ids)
	for _, id := range ids {
		if id.Job != "" || id.Host == status.RestoreTestKey || prev == nil {
			continue
		}
		for i := prev.Jobs.SearchHost(id.Host); i < prev.Jobs.Len() && prev.Jobs.At(i).Host == id.Host; i++ {
			k++
		}
	}
	return k
}

// runNudges rereads nudged records until ctx is done.
func (c *Collector) runNudges(ctx context.Context) {
	n := c.nudges
	rate := c.opts.NudgeRate
	if rate <= 0 {
		rate = DefaultNudgeRate
	}
	for {
		ids, wait := n.take(time.Now(), rate)
		if len(ids) == 0 {
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
		// Each reread that changes something re-encodes /metrics for the
		// whole fleet (about a second per 10,000 hosts on a busy 2-core
		// machine): nudges arriving meanwhile wait twice as long as it
		// took and are read together, so encoding takes at most a third
		// of the time whatever the nudge rate, and a nudge waits a few
		// encodes at most.
		t0 := time.Now()
		c.reread(ctx, ids)
		n.mu.Lock()
		n.reading--
		n.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Since(t0)):
		}
	}
}

// reread reads records again and serves the result, between full
// refreshes (never during one: a full refresh that read a record before
// its write is followed by this reread, which reads it after).
func (c *Collector) reread(ctx context.Context, ids []status.JobID) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	prev := c.State().Snapshot
	rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	snap, err := fleet.Reread(rctx, c.opts.Source, fleet.Options{Expected: c.opts.Expected, Jobs: c.opts.Jobs, Schedules: c.opts.Schedule, Workers: c.opts.Workers, Now: c.now}, prev, ids)
	if err != nil {
		c.nudges.readFails.Add(float64(len(ids)))
		c.log.Debug("nudged reread failed; the next full refresh reads these records", "records", len(ids), "err", err)
		return
	}
	// A host's nudge reads its known jobs too: the rate bounds reads, so
	// those are paid for, and the next nudges wait for them.
	reads := readCost(prev, ids)
	c.nudges.charge(reads - len(ids))
	c.nudges.reads.Add(float64(reads))
	if snap == prev {
		return // nothing new: no need to encode the fleet again
	}
	c.mu.Lock()
	c.publish(snap, hostsOfIDs(ids), false)
	after := c.afterRefresh
	c.mu.Unlock()
	if after != nil {
		after()
	}
	c.requestSave()
}
