package deliver

import (
	"context"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestClockOffsetAgainstVault: the exporter is the only place that can see
// the hosts' clocks side by side (issue 16, item 9). Each write keeps the
// writer's clock (written_at); KV v2 keeps its own time of the write; the
// difference is the writer's offset, a clock behind as well as ahead.
func TestClockOffsetAgainstVault(t *testing.T) {
	v := vaulttest.Start(t)
	st, err := vaultkv.New(vaultkv.Config{Address: v.Addr, Token: v.RootToken, Mount: "kv", Prefix: "golemtrust/backup-status", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host   string
		offset time.Duration
	}{
		{"behind", -10 * time.Minute},
		{"right", 0},
		{"ahead", 4 * time.Minute},
	} {
		d, err := New(Options{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		d.now = func() time.Time { return time.Now().Add(tc.offset) }
		res := status.Result{Host: tc.host, Outcome: status.Success, At: d.now()}
		start := time.Now()
		if _, err := d.Deliver(context.Background(), spool.Entry{Result: &res}, spool.Retry{Attempts: 1}); err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		took := time.Since(start)
		data, err := st.Get(context.Background(), tc.host)
		if err != nil {
			t.Fatal(err)
		}
		r := status.Parse(tc.host, data)
		if r.ClockOffset == nil {
			t.Fatalf("%s: no clock offset read from %v", tc.host, data)
		}
		// Whole seconds (a second either way), and Vault stores the
		// write after the writer's clock was read, within the delivery.
		if diff := *r.ClockOffset - tc.offset; diff < -took-time.Second || diff > time.Second {
			t.Errorf("%s: clock offset %s, want %s (the delivery took %s)", tc.host, *r.ClockOffset, tc.offset, took)
		}
	}
}
