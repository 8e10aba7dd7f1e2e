package histories

import (
	"flag"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestHistoriesVault: the invariants of TestHistories on a real Vault, KV
// v2 (check-and-set) and KV v1 in turn, each history under a prefix of
// its own. A fifth of the histories (at least 10), from the fixed seed:
// Vault is slower than the local store.
func TestHistoriesVault(t *testing.T) {
	v := vaulttest.Start(t)
	if f := flag.Lookup("rapid.nofailfile"); f != nil {
		f.Value.Set("true")
	}
	if f := flag.Lookup("rapid.checks"); f != nil {
		old := f.Value.String()
		n, _ := strconv.Atoi(old)
		f.Value.Set(strconv.Itoa(max(10, n/5)))
		defer f.Value.Set(old)
	}
	if f := flag.Lookup("rapid.seed"); f != nil && f.Value.String() == "0" {
		f.Value.Set(strconv.Itoa(fixedSeed))
		defer f.Value.Set("0")
	}
	var n atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		steps := rapid.SliceOfN(stepGen(false), 1, 30).Draw(rt, "steps")
		i := n.Add(1)
		mount := []string{"kv", "kv1"}[i%2]
		st, err := vaultkv.New(vaultkv.Config{Address: v.Addr, Token: v.RootToken, Mount: mount, Prefix: fmt.Sprintf("histories/%d", i), Timeout: 5 * time.Second})
		if err != nil {
			rt.Fatal(err)
		}
		if msg := runHistoryOn(steps, false, st); msg != "" {
			rt.Fatalf("%s (Vault, %s)\nhistory:\n%s", msg, mount, goSteps(steps))
		}
	})
}

// TestHistoryRedeliveryVault: a result delivered again seconds after it
// reached the store leaves its record as it was on KV v2 and v1 (no
// write: on v2 a write is a version, and versions are the history). It
// failed when a redelivery stamped written_at anew.
func TestHistoryRedeliveryVault(t *testing.T) {
	v := vaulttest.Start(t)
	steps := []step{
		{Op: "result", Host: hosts[0], Job: jobs[0], Outcome: status.Success},
		{Op: "dup", Host: hosts[0], Job: jobs[0]},
		{Op: "flush"},
		{Op: "result", Host: hosts[1], Job: jobs[0], Outcome: status.Failed},
		{Op: "dup", Host: hosts[1], Job: jobs[0]},
		{Op: "flush"},
	}
	for _, mount := range []string{"kv", "kv1"} {
		st, err := vaultkv.New(vaultkv.Config{Address: v.Addr, Token: v.RootToken, Mount: mount, Prefix: "redelivery", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if msg := runHistoryOn(steps, false, st); msg != "" {
			t.Errorf("%s (Vault, %s)", msg, mount)
		}
	}
}
