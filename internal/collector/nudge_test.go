package collector

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNudgeQueue: nudges for one host coalesce, the queue is bounded, and
// rereads are limited to the rate after the burst.
func TestNudgeQueue(t *testing.T) {
	c := New(Options{})
	for range 3 {
		c.Nudge("db")
	}
	for i := range MaxPendingNudges + 5 {
		c.Nudge(fmt.Sprintf("h%d", i))
	}
	n := c.nudges
	for _, tc := range []struct {
		result string
		want   float64
	}{
		{"queued", MaxPendingNudges},
		{"coalesced", 2},
		{"dropped", 6},
	} {
		if got := testutil.ToFloat64(n.requests.WithLabelValues(tc.result)); got != tc.want {
			t.Errorf("nudges %s = %v, want %v", tc.result, got, tc.want)
		}
	}
	if c.Nudge("h1") != true || c.Nudge("another") != false {
		t.Errorf("a waiting host must coalesce and a new one be dropped while the queue is full")
	}

	t0 := time.Unix(1_700_000_000, 0)
	steps := []struct {
		at   time.Duration
		want int
	}{
		{0, NudgeBurst},   // the burst
		{0, 0},            // nothing left
		{time.Second, 10}, // the rate
		{1500 * time.Millisecond, 5},
		{time.Hour, NudgeBurst}, // never more than the burst
	}
	for i, st := range steps {
		hosts, wait := n.take(t0.Add(st.at), DefaultNudgeRate)
		if len(hosts) != st.want {
			t.Errorf("step %d: took %d, want %d", i, len(hosts), st.want)
		}
		if st.want == 0 && wait <= 0 {
			t.Errorf("step %d: nothing taken and no wait", i)
		}
		if i == 0 && hosts[0] != "db" {
			t.Errorf("first taken %q, want db (first come)", hosts[0])
		}
	}
	if !c.Nudge("db") {
		t.Errorf("db taken, then nudged again: refused")
	}
}
