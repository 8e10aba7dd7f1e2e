package collector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

func host(h string) status.JobID { return status.JobID{Host: h} }

// TestNudgeQueue: nudges for one record coalesce, the queues are bounded,
// and rereads are limited to the rate after the burst.
func TestNudgeQueue(t *testing.T) {
	c := New(Options{})
	for range 3 {
		c.Nudge("192.0.2.1", host("db"))
	}
	// Nothing is known before the first refresh: every nudge is new, and
	// bounded per client.
	const flood = 10005
	for i := range flood {
		c.Nudge(fmt.Sprintf("192.0.2.%d", i%100), host(fmt.Sprintf("h%d", i)))
	}
	n := c.nudges
	wantQueued := 100 * MaxPendingPerClient
	for _, tc := range []struct {
		result string
		want   float64
	}{
		{"queued", float64(wantQueued)},
		{"coalesced", 2},
		{"dropped", float64(flood + 1 - wantQueued)},
	} {
		if got := testutil.ToFloat64(n.requests.WithLabelValues(tc.result)); got != tc.want {
			t.Errorf("nudges %s = %v, want %v", tc.result, got, tc.want)
		}
	}
	if c.Nudge("192.0.2.7", host("h7")) != true || c.Nudge("192.0.2.7", host("another")) != false {
		t.Errorf("a waiting record must coalesce and a new one be dropped while its client's queue is full")
	}
	if !c.Nudge("198.51.100.1", host("another")) {
		t.Errorf("another client's nudge refused while the first ones' queues are full")
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
		ids, wait := n.take(t0.Add(st.at), DefaultNudgeRate)
		if len(ids) != st.want {
			t.Errorf("step %d: took %d, want %d", i, len(ids), st.want)
		}
		if st.want == 0 && wait <= 0 {
			t.Errorf("step %d: nothing taken and no wait", i)
		}
		if i == 0 && ids[0] != host("db") {
			t.Errorf("first taken %v, want db (first come)", ids[0])
		}
	}
	if !c.Nudge("192.0.2.1", host("db")) {
		t.Errorf("db taken, then nudged again: refused")
	}
}

// TestNudgeFlood (issue 16 item 8): a flood of nudges for made-up names
// from one client fills that client's queue only, and never delays the
// fleet: a known host's failure is the next read, a new job's first result
// from another client the one after, whatever the flood.
func TestNudgeFlood(t *testing.T) {
	src := writeStore(t, map[string]string{"db": `{"status":"success"}`, "web": `{"status":"success"}`})
	c := New(Options{Source: src})
	c.Refresh(context.Background())

	const flood = 30000
	accepted := 0
	for i := range flood {
		if c.Nudge("203.0.113.9", host(fmt.Sprintf("made-up-%d", i))) {
			accepted++
		}
	}
	if accepted != MaxPendingPerClient {
		t.Errorf("flood: %d nudges accepted, want %d (one client's bound)", accepted, MaxPendingPerClient)
	}
	if !c.Nudge("192.0.2.10", status.JobID{Host: "web", Job: "new-job"}) {
		t.Fatalf("a new job's nudge from another client refused during the flood")
	}
	if !c.Nudge("203.0.113.9", host("db")) {
		t.Fatalf("a known host's nudge refused during the flood, from the flooding client itself")
	}
	n := c.nudges
	if got := testutil.ToFloat64(n.waiting.WithLabelValues("known")); got != 1 {
		t.Errorf("known records waiting: %v, want 1", got)
	}
	if got := testutil.ToFloat64(n.waiting.WithLabelValues("new")); got != MaxPendingPerClient+1 {
		t.Errorf("new records waiting: %v, want %d", got, MaxPendingPerClient+1)
	}

	// Reads one at a time, as after the burst: the order is the point.
	n.tokens = 0
	t0 := time.Unix(1_700_000_000, 0)
	n.last = t0
	var order []status.JobID
	for i := 1; len(order) < 3; i++ {
		ids, _ := n.take(t0.Add(time.Duration(i)*100*time.Millisecond), DefaultNudgeRate)
		order = append(order, ids...)
	}
	want := []status.JobID{host("db"), host("made-up-0"), {Host: "web", Job: "new-job"}}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("read order %v, want %v: the known host first, then the clients in turn", order, want)
	}
}

// TestNudgeKnownFlood: a flood of nudges for records serve holds (every
// name /metrics shows) from one client fills that client's places only:
// another client's nudge, for a record the flood also named, is read
// next, not where the flood put it.
func TestNudgeKnownFlood(t *testing.T) {
	records := map[string]string{}
	for i := range 2 * MaxKnownPerClient {
		records[fmt.Sprintf("h%04d", i)] = `{"status":"success"}`
	}
	c := New(Options{Source: writeStore(t, records)})
	c.Refresh(context.Background())
	accepted := 0
	for i := range 2 * MaxKnownPerClient {
		if c.Nudge("203.0.113.9", host(fmt.Sprintf("h%04d", i))) {
			accepted++
		}
	}
	if accepted != MaxKnownPerClient {
		t.Errorf("flood of known names: %d accepted, want %d (one client's places)", accepted, MaxKnownPerClient)
	}
	real := host(fmt.Sprintf("h%04d", MaxKnownPerClient-1)) // the flood's last accepted
	if !c.Nudge("192.0.2.10", real) {
		t.Fatalf("the real host's nudge refused during the flood")
	}
	n := c.nudges
	n.tokens = 0
	t0 := time.Unix(1_700_000_000, 0)
	n.last = t0
	var order []status.JobID
	for i := 1; len(order) < 2; i++ {
		ids, _ := n.take(t0.Add(time.Duration(i)*100*time.Millisecond), DefaultNudgeRate)
		order = append(order, ids...)
	}
	if order[1] != real {
		t.Errorf("read order %v: the real host's nudge is not second", order)
	}
}

// TestNudgeReadCost: the rate bounds reads, and a host's nudge reads its
// jobs too (issue 16 item 12: each nudge rereads all of a host's jobs).
func TestNudgeReadCost(t *testing.T) {
	snap := &fleet.Snapshot{
		Hosts: fleet.RecordsOf([]status.Record{{Host: "db"}, {Host: "web"}}...),
		Jobs:  fleet.RecordsOf([]status.Record{{Host: "db", Job: "a"}, {Host: "db", Job: "b"}, {Host: "db", Job: "c"}, {Host: "jobsonly", Job: "x"}}...),
	}
	for _, tc := range []struct {
		ids  []status.JobID
		want int
	}{
		{[]status.JobID{host("web")}, 1},
		{[]status.JobID{host("db")}, 4},
		{[]status.JobID{{Host: "db", Job: "a"}}, 1},
		{[]status.JobID{host("db"), host("jobsonly"), {Host: status.RestoreTestKey}}, 7},
	} {
		if got := readCost(snap, tc.ids); got != tc.want {
			t.Errorf("readCost(%v) = %d, want %d", tc.ids, got, tc.want)
		}
	}
	c := New(Options{})
	n := c.nudges
	t0 := time.Unix(1_700_000_000, 0)
	n.take(t0, DefaultNudgeRate)
	n.charge(NudgeBurst + 10) // the burst and a second's worth beyond it
	if ids, _ := n.take(t0, DefaultNudgeRate); len(ids) != 0 {
		t.Errorf("nothing waits, yet %d taken", len(ids))
	}
	c.Nudge("192.0.2.1", host("web"))
	if ids, wait := n.take(t0, DefaultNudgeRate); len(ids) != 0 || wait < time.Second {
		t.Errorf("after reads beyond the burst: took %d, wait %v; want nothing for over a second", len(ids), wait)
	}
}
