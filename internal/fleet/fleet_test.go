package fleet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

func write(t *testing.T, s interface {
	Update(context.Context, string, func(map[string]any) (map[string]any, bool, error)) error
}, key string, doc map[string]any) {
	t.Helper()
	if err := s.Update(context.Background(), key, func(map[string]any) (map[string]any, bool, error) { return doc, true, nil }); err != nil {
		t.Fatal(err)
	}
}

func hosts(snap *Snapshot) string {
	var hs []string
	for _, r := range snap.Hosts.Slice() {
		hs = append(hs, r.Host+"="+r.Status)
	}
	return strings.Join(hs, ",")
}

func TestUnionOfExpectedAndListed(t *testing.T) {
	s, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, "db", map[string]any{"status": "failed"})
	write(t, s, "auth", map[string]any{"status": "success", "last_success": status.FormatTime(time.Now())})
	write(t, s, status.RestoreTestKey, map[string]any{"result": "failed", "last_test": status.FormatTime(time.Now())})
	for _, workers := range []int{0, 1, 3} {
		snap := Load(context.Background(), s, Options{Expected: []string{"metrics", "db", "metrics"}, Workers: workers}, nil)
		if snap.Err != nil {
			t.Fatal(snap.Err)
		}
		if got, want := hosts(snap), "auth=success,db=failed,metrics=unknown"; got != want {
			t.Errorf("workers %d: hosts %s, want %s", workers, got, want)
		}
		if snap.RestoreTest == nil || snap.RestoreTest.Passed() {
			t.Errorf("restore test = %+v, want a failed one", snap.RestoreTest)
		}
		if snap.LastSuccess.IsZero() {
			t.Errorf("a complete refresh did not set LastSuccess")
		}
	}
}

// TestStoreOutageKeepsWhatWasKnown: when Vault goes away, hosts keep their
// last known status instead of all turning unknown (the runbook's script
// would page for the whole fleet), and the snapshot says the store failed.
func TestStoreOutageKeepsWhatWasKnown(t *testing.T) {
	v := vaulttest.Start(t)
	s, err := vaultkv.New(vaultkv.Config{Address: v.Addr, Token: v.RootToken, Mount: "kv", Prefix: "golemtrust/backup-status", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, "db", map[string]any{"status": "success", "last_success": status.FormatTime(time.Now())})
	write(t, s, "auth", map[string]any{"status": "failed"})
	ctx := context.Background()
	first := Load(ctx, s, Options{Expected: []string{"metrics"}}, nil)
	if first.Err != nil {
		t.Fatal(first.Err)
	}

	v.Stop(t)
	down := Load(ctx, s, Options{Expected: []string{"metrics"}}, first)
	if down.Err == nil || !vaultkv.IsUnavailable(down.Err) {
		t.Errorf("Err = %v, want the outage", down.Err)
	}
	if got, want := hosts(down), "auth=failed,db=success,metrics=unknown"; got != want {
		t.Errorf("during the outage: %s, want %s", got, want)
	}
	if !down.LastSuccess.Equal(first.LastSuccess) {
		t.Errorf("LastSuccess moved during an outage")
	}
	again := Load(ctx, s, Options{Expected: []string{"metrics"}}, down)
	if n := len(again.Hosts.At(1).Problems); n != len(first.Hosts.At(1).Problems) {
		t.Errorf("problems grew while the outage lasted: %q", again.Hosts.At(1).Problems)
	}

	v.Restart(t)
	back := Load(ctx, s, Options{Expected: []string{"metrics"}}, again)
	if back.Err != nil || !back.LastSuccess.After(first.LastSuccess) {
		t.Errorf("after Vault came back: err %v, last success %v", back.Err, back.LastSuccess)
	}

	// Started while Vault is down, with nothing known: expected hosts are
	// shown, as unknown, and the snapshot says why.
	v.Stop(t)
	cold := Load(ctx, s, Options{Expected: []string{"db", "metrics"}}, nil)
	if cold.Err == nil || hosts(cold) != "db=unknown,metrics=unknown" || cold.Listed {
		t.Errorf("cold start during an outage: err %v, hosts %s, listed %v", cold.Err, hosts(cold), cold.Listed)
	}
	for _, r := range cold.Hosts.Slice() {
		if !r.Unread {
			t.Errorf("%s: not marked unread though nothing was read", r.Host)
		}
	}
	if !down.Listed || down.Hosts.At(0).Unread {
		t.Errorf("an outage after a good refresh marked known hosts unread")
	}
}

// TestMalformedRecordIsTheRecordsProblem: a file another tool broke makes
// that host's record unreadable, not the whole store unreachable.
func TestMalformedRecordIsTheRecordsProblem(t *testing.T) {
	dir := t.TempDir()
	s, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, "db", map[string]any{"status": "success", "last_success": status.FormatTime(time.Now())})
	for name, body := range map[string]string{"auth.json": "{not json", `we\ird.json`: "{}", "restore-test.json": "[]"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	snap := Load(context.Background(), s, Options{}, nil)
	if snap.Err != nil {
		t.Fatalf("Err = %v, want none: the store answered", snap.Err)
	}
	if got, want := hosts(snap), `auth=unknown,db=success,we\ird=unknown`; got != want {
		t.Errorf("hosts %s, want %s", got, want)
	}
	for _, r := range snap.Hosts.Slice() {
		if r.Host != "db" && (len(r.Problems) == 0 || !strings.Contains(r.Problems[0], "malformed record")) {
			t.Errorf("%s: problems %q, want the malformed record named", r.Host, r.Problems)
		}
	}
	if snap.RestoreTest == nil || snap.RestoreTest.Passed() || len(snap.RestoreTest.Problems) == 0 {
		t.Errorf("restore test = %+v, want one with a problem", snap.RestoreTest)
	}
}
