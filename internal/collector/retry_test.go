package collector

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestEveryRetriesFailedRefresh: a failed refresh is retried after the
// retry wait, doubling, not after the whole interval; a success goes back
// to the interval.
func TestEveryRetriesFailedRefresh(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		every(ctx, time.Hour, time.Millisecond, func(context.Context) bool {
			n := calls.Add(1)
			if n == 3 {
				cancel() // the next would wait the interval
			}
			return n >= 3 // two failures, then a success
		})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("after %d refreshes, two of them failed, the next waited for the interval (1h)", calls.Load())
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d refreshes, want 3 (two failed and retried, then one that succeeded)", n)
	}
}

// TestStoreBackWithinRetry: serve started while Vault is down (as during a
// fail-over or a restart) reports the store up again within seconds of
// Vault's return, not a refresh interval later, so BackupStoreUnreachable's
// `for` is never met by an outage that has ended.
func TestStoreBackWithinRetry(t *testing.T) {
	v := vaulttest.Start(t)
	s, err := vaultkv.New(vaultkv.Config{Address: v.Addr, Token: v.RootToken, Mount: "kv", Prefix: "golemtrust/backup-status", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(context.Background(), "db", func(map[string]any) (map[string]any, bool, error) {
		return map[string]any{"status": "success", "last_success": status.FormatTime(time.Now())}, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	v.Stop(t)
	c := New(Options{Source: s, Timeout: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx, time.Hour)
	waitState(t, c, "a first refresh to fail", 30*time.Second, func(st State) bool { return st.Refreshes >= 1 && !st.StoreUp() })
	v.Restart(t)
	waitState(t, c, "the store to be up again", 6*RetryFirst, func(st State) bool { return st.StoreUp() })
	if got := c.State().Snapshot.Hosts; got.Len() != 1 || got.At(0).Host != "db" {
		t.Errorf("after Vault came back: hosts %+v, want db", got)
	}
}

func waitState(t *testing.T, c *Collector, what string, timeout time.Duration, cond func(State) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond(c.State()) {
		if time.Now().After(deadline) {
			st := c.State()
			t.Fatalf("waited %v for %s: %d refreshes, %d failed", timeout, what, st.Refreshes, st.Failures)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStoreUpUnknownBeforeFirstRefresh: a serve that has not yet tried to
// read the store (just started, or restarted) exports no
// backupwatch_store_up: 0 would say the store cannot be read (seen in
// TestHA as a replica restarted).
func TestStoreUpUnknownBeforeFirstRefresh(t *testing.T) {
	c := New(Options{Source: mapSource{}})
	if n := testutil.CollectAndCount(c, "backupwatch_store_up"); n != 0 {
		t.Errorf("before the first refresh: %d backupwatch_store_up series, want none", n)
	}
	c.Refresh(context.Background())
	if n := testutil.CollectAndCount(c, "backupwatch_store_up"); n != 1 {
		t.Errorf("after the first refresh: %d backupwatch_store_up series, want 1", n)
	}
}
