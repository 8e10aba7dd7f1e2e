package histories

import (
	"flag"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

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
