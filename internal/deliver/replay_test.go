package deliver

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestReplayWritesNothing: a result delivered again (a spool entry sent
// twice, a flush after a crash) leaves the record as it was, on both KV
// versions, however much later it comes: before, the merge's history line
// made the delivery stamp written_at anew, so a replay a second or more
// later wrote the record again (a new version: on KV v2 the history) with
// nothing changed but the writer's clock (seen beside stress-ng in
// cmd's TestRunSpoolsWhileVaultIsDown).
func TestReplayWritesNothing(t *testing.T) {
	v := vaulttest.Start(t)
	for _, kv := range []int{1, 2} {
		t.Run(fmt.Sprintf("kv%d", kv), func(t *testing.T) {
			mount := map[int]string{1: "kv1", 2: "kv"}[kv]
			st, err := vaultkv.New(vaultkv.Config{Address: v.Addr, Token: v.RootToken, Mount: mount, KVVersion: kv, Prefix: "golemtrust/backup-status", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			d, err := New(Options{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			clock := time.Now().Add(-time.Hour).Truncate(time.Second)
			d.now = func() time.Time { return clock }
			failed := status.Result{Host: "db", Outcome: status.Failed, At: clock.Add(-10 * time.Minute)}
			ok := status.Result{Host: "db", Outcome: status.Success, At: clock.Add(-5 * time.Minute)}
			deliver := func(r status.Result) {
				t.Helper()
				if _, err := d.Deliver(context.Background(), spool.Entry{Result: &r}, spool.Retry{Attempts: 1}); err != nil {
					t.Fatal(err)
				}
			}
			deliver(failed)
			deliver(ok)
			before, err := st.Get(context.Background(), "db")
			if err != nil {
				t.Fatal(err)
			}
			for _, later := range []time.Duration{0, 3 * time.Second, time.Hour} {
				clock = clock.Add(later)
				deliver(failed)
				deliver(ok)
				after, err := st.Get(context.Background(), "db")
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("replayed %v later: the record moved\n got %v\nwant %v", later, after, before)
				}
			}
		})
	}
}
