package collector

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// BenchmarkNudge measures a nudge's reread and the encoding it causes, at
// BACKUPWATCH_BENCH_HOSTS hosts (10,000 by default): the work a nudge
// costs serve, which should not grow with the fleet.
func BenchmarkNudge(b *testing.B) {
	n := 10000
	if s := os.Getenv("BACKUPWATCH_BENCH_HOSTS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	src := mapSource{}
	for i := range n {
		src[fmt.Sprintf("host-%06d", i)] = map[string]any{"status": "success", "last_success": "2026-11-25T02:00:00+00:00",
			"last_attempt": "2026-11-25T01:40:00+00:00", "exit_code": "0", "duration_seconds": "1200.5",
			"snapshot_id": fmt.Sprintf("%08x", i), "bytes_added": "1048576", "files_new": "12"}
	}
	c := New(Options{Source: src, Now: func() time.Time { return testNow }})
	NewHandler(c, nil, nil)
	if snap := c.Refresh(context.Background()); snap.Err != nil || snap.Hosts.Len() != n {
		b.Fatalf("refresh: %v, %d hosts", snap.Err, snap.Hosts.Len())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := fmt.Sprintf("host-%06d", (i*7919)%n)
		src[h] = map[string]any{"status": "failed", "last_success": "2026-11-25T02:00:00+00:00", "last_failure": "2026-11-25T03:00:00+00:00", "exit_code": strconv.Itoa(i%200 + 1)}
		c.reread(context.Background(), []status.JobID{{Host: h}})
	}
}
