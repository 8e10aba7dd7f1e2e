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
var slots struct {
	mu      sync.Mutex
	cond    *sync.Cond
	limit   int // stacks at once: -test.parallel as given, or defaultParallel
	running int
	pending int // slots kept for announced long scenarios not started yet
}

// goParallel is Go's own limit once the harness has taken over: above any
// count of parallel tests and subtests in the package.
const goParallel = 1000

// takeOverParallel makes the harness's limit -test.parallel's value (the
// user's, or defaultParallel) and raises Go's out of its way.
func takeOverParallel() {
	slots.cond = sync.NewCond(&slots.mu)
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
	slots.mu.Lock()
	slots.pending += n
	slots.mu.Unlock()
	r := &reservation{left: n}
	t.Cleanup(func() {
		slots.mu.Lock()
		defer slots.mu.Unlock()
		slots.pending -= r.left
		r.left = 0
		slots.cond.Broadcast()
	})
	return r
}

// reservation is what is left of a long scenario's kept slots.
type reservation struct{ left int }

// takeSlot waits for a stack's slot (one kept by r at once, when r has one
// left) and gives it back when t ends, after the stack's parts are stopped
// (the cleanup is registered before theirs).
func takeSlot(t *testing.T, r *reservation) {
	slots.mu.Lock()
	if r != nil && r.left > 0 {
		r.left--
		slots.pending--
	} else {
		for slots.running+slots.pending >= slots.limit && slots.running > 0 {
			slots.cond.Wait()
		}
	}
	slots.running++
	slots.mu.Unlock()
	t.Cleanup(func() {
		slots.mu.Lock()
		slots.running--
		slots.cond.Broadcast()
		slots.mu.Unlock()
	})
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
