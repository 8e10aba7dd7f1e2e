package e2e

import (
	"flag"
	"strconv"
	"sync"
	"testing"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// The harness's own limit on stacks running at once, with long scenarios
// first. Go's parallel tests are released together once the sequential
// ones are done and take their -test.parallel slots in no set order: a
// scenario of many minutes taking one last would add its minutes to the
// suite's end. So the harness, not Go, decides which stack runs: Go's
// limit is raised out of the way (TestMain), every stack takes one of
// these slots (startStack, and the stacks of their own: HA, deadman,
// textfile, ping) and gives it back at its test's end, and a long
// scenario, announced before its t.Parallel(), has a slot kept for it
// until its stack starts.
var slots = newGate(0)

// gate counts the stacks running and the slots kept for long scenarios.
type gate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	limit   int // stacks at once
	running int
	pending int // slots kept for announced long scenarios not started yet
}

func newGate(limit int) *gate {
	g := &gate{limit: limit}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// reservation is what is left of a long scenario's kept slots.
type reservation struct{ left int }

// reserve keeps n slots for a long scenario's stacks.
func (g *gate) reserve(n int) *reservation {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending += n
	return &reservation{left: n}
}

// unreserve gives back what r kept and no stack took.
func (g *gate) unreserve(r *reservation) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending -= r.left
	r.left = 0
	g.cond.Broadcast()
}

// tryTake takes a slot if one is free: one kept by r when r has one left,
// else one not kept for anybody (or any, when nothing runs: a limit below
// the slots kept must not stop everything). The caller holds g.mu.
func (g *gate) tryTake(r *reservation) bool {
	switch {
	case r != nil && r.left > 0:
		r.left--
		g.pending--
	case g.running+g.pending >= g.limit && g.running > 0:
		return false
	}
	g.running++
	return true
}

// take waits for a slot (see tryTake).
func (g *gate) take(r *reservation) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for !g.tryTake(r) {
		g.cond.Wait()
	}
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	g.cond.Broadcast()
}

// goParallel is Go's own limit once the harness has taken over: above any
// count of parallel tests and subtests in the package.
const goParallel = 1000

// takeOverParallel makes the harness's limit -test.parallel's value (the
// user's, or defaultParallel) and raises Go's out of its way.
func takeOverParallel() {
	slots.limit, _ = strconv.Atoi(defaultParallel)
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			if n, err := strconv.Atoi(f.Value.String()); err == nil && n > 0 {
				slots.limit = n
			}
		}
	})
	_ = flag.Set("test.parallel", strconv.Itoa(goParallel))
}

// longScenario announces, before t.Parallel() (while the sequential tests
// run, before any parallel one starts), that t will start n long stacks
// (its own, or its subtests'): n slots are kept for them, and the ones not
// taken by the end of t are given back.
func longScenario(t *testing.T, n int) *reservation {
	r := slots.reserve(n)
	t.Cleanup(func() { slots.unreserve(r) })
	return r
}

// takeSlot waits for a stack's slot (one kept by r at once, when r has one
// left) and gives it back when t ends, after the stack's parts are stopped
// (the cleanup is registered before theirs).
func takeSlot(t *testing.T, r *reservation) {
	slots.take(r)
	t.Cleanup(slots.release)
}

// TestGate: a short stack waits while the free slots are kept for long
// scenarios not started yet; a long one never waits for its kept slot;
// what a long scenario kept and did not take goes back.
func TestGate(t *testing.T) {
	t.Parallel()
	g := newGate(3)
	long := g.reserve(2)
	try := func(what string, r *reservation, want bool) {
		t.Helper()
		g.mu.Lock()
		defer g.mu.Unlock()
		if got := g.tryTake(r); got != want {
			t.Fatalf("%s: took a slot %v, want %v (running %d, kept %d, limit %d)", what, got, want, g.running, g.pending, g.limit)
		}
	}
	try("the first short stack (1 slot free, 2 kept)", nil, true)
	try("a second short stack (the 2 free slots kept)", nil, false)
	try("the first long stack", long, true)
	try("a second short stack (1 slot kept)", nil, false)
	g.release() // the first short stack ends
	try("a second short stack (1 free, 1 kept)", nil, true)
	try("the second long stack (its kept slot)", long, true)
	if g.running != 3 || g.pending != 0 {
		t.Fatalf("running %d, kept %d: want 3 and 0", g.running, g.pending)
	}
	try("a fourth stack", nil, false)

	g = newGate(2)
	long = g.reserve(2)
	try("a short stack when nothing runs, every slot kept", nil, true)
	try("a second short stack", nil, false)
	g.unreserve(long) // the long scenario failed before its stacks
	try("a second short stack once the kept slots are back", nil, true)
}

// generation is one pair of the Prometheus and Alertmanager a user runs:
// Debian stable's packages, or the current upstream releases
// ($BACKUPWATCH_TOOLS_BIN).
type generation struct {
	name                     string
	prometheus, alertmanager string
}

// generations are both, for a scenario run on each (as subtests, in
// parallel).
func generations(t *testing.T) []generation {
	t.Helper()
	return []generation{
		{parts.Debian, parts.DebianPath(t, "prometheus"), parts.DebianPath(t, "alertmanager")},
		{parts.Current, parts.CurrentPath(t, "prometheus"), parts.CurrentPath(t, "alertmanager")},
	}
}

// onEachGeneration runs scenario on each generation, as parallel subtests
// named after it, in parallel with the package's other tests. A long
// scenario (long) has a slot per generation kept for its stacks before
// t.Parallel() (longScenario), which it passes to startStack; a short one
// gets nil.
func onEachGeneration(t *testing.T, long bool, scenario func(t *testing.T, g generation, long *reservation)) {
	gens := generations(t)
	var kept *reservation
	if long {
		kept = longScenario(t, len(gens))
	}
	t.Parallel()
	for _, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			scenario(t, g, kept)
		})
	}
}
