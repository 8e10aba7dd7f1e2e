package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// storeSpoolOf is the one store spool folder under base (a test uses one
// store), or "" when none was made.
func storeSpoolOf(t *testing.T, base string) string {
	t.Helper()
	des, _ := os.ReadDir(base)
	var dirs []string
	for _, de := range des {
		if de.IsDir() && !strings.HasPrefix(de.Name(), ".") {
			dirs = append(dirs, filepath.Join(base, de.Name()))
		}
	}
	if len(dirs) > 1 {
		t.Fatalf("%d spools under %s, want one", len(dirs), base)
	}
	if len(dirs) == 0 {
		return ""
	}
	return dirs[0]
}

// spooled lists the entry files waiting in a store spool.
func spooled(t *testing.T, dir string) []string {
	t.Helper()
	if dir == "" {
		return nil
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	return names
}

// writeSpoolFile puts an entry into a spool by hand, as an older binary
// (or a clock gone wrong) may have left it.
func writeSpoolFile(t *testing.T, dir string, stamp time.Time, body string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%020d-%07d-%06d.json", stamp.UnixNano(), 1, 1)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func kvRecord(t *testing.T, v *vaulttest.Server, host string) map[string]any {
	t.Helper()
	sec, err := v.Client(t).KVv2("kv").Get(context.Background(), "golemtrust/backup-status/"+host)
	if err != nil {
		t.Fatalf("read %s: %v", host, err)
	}
	return sec.Data
}

// Issue 9, item 1: a result dated in the future must not hide a later
// failure, whether it comes from --at, from the spool, or is already stored.
func TestFutureResultsNeverHideFailures(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	spoolDir := t.TempDir()
	vault := []string{"--vault.address=" + v.Addr, "--vault.kv-version=2", "--vault.timeout=3s", "--spool.dir=" + spoolDir}
	inTwoHours := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)

	// The reproduction: refused with exit 2, nothing written, nothing spooled.
	code, _, errOut := cli(t, append(vault, "record", "--host=h", "--status=success", "--at="+inTwoHours)...)
	if code != exitUsage || !strings.Contains(errOut, "clock skew") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("record --at now+2h: exit %d, stderr %q; want %d and one line about the clock skew", code, errOut, exitUsage)
	}
	if _, err := v.Client(t).KVv2("kv").Get(context.Background(), "golemtrust/backup-status/h"); err == nil {
		t.Errorf("record --at now+2h wrote a record")
	}
	if n := spooled(t, storeSpoolOf(t, spoolDir)); len(n) != 0 {
		t.Errorf("record --at now+2h spooled %v", n)
	}

	// A future success already stored (by an older backupwatch, by hand)
	// loses to the real failure that follows.
	if _, err := v.Client(t).KVv2("kv").Put(context.Background(), "golemtrust/backup-status/h", map[string]any{
		"status": "success", "last_success": status.FormatTime(time.Now().Add(2 * time.Hour)), "consecutive_failures": "0",
	}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, append(vault, "record", "--host=h", "--status=failed", "--exit-code=1")...); code != exitOK {
		t.Fatalf("record failed: exit %d: %s", code, errOut)
	}
	if rec := kvRecord(t, v, "h"); rec["status"] != "failed" || rec["consecutive_failures"] != "1" || rec["last_success"] != nil {
		t.Errorf("after a real failure over a future success: %v; want status failed, the future last_success gone", rec)
	}

	// A spooled entry dated in the future is set aside, reported, never
	// delivered; the entries after it are.
	sp := storeSpoolOf(t, spoolDir)
	if sp == "" {
		t.Fatalf("no spool folder for the store under %s", spoolDir)
	}
	now := time.Now().UTC()
	future := writeSpoolFile(t, sp, now.Add(-time.Minute), fmt.Sprintf(`{"version":1,"kind":"result","spooled_at":%q,"host":"h","outcome":"success","at":"9998-01-01T00:00:00Z"}`, now.Format(time.RFC3339Nano)))
	code, _, errOut = cli(t, append(vault, "flush", "--attempts=1")...)
	if code != exitError || !strings.Contains(errOut, "refused for good") || !strings.Contains(errOut, "in the future") {
		t.Errorf("flush of a future entry: exit %d, stderr %q; want %d, refused for good, in the future", code, errOut, exitError)
	}
	if _, err := os.Stat(filepath.Join(sp, "rejected", future)); err != nil {
		t.Errorf("future entry not set aside in rejected/: %v", err)
	}
	if rec := kvRecord(t, v, "h"); rec["status"] != "failed" {
		t.Errorf("a future spooled success was delivered: %v", rec)
	}
}

// Issue 9, item 2: a result Vault refuses for good (a host's AppRole
// writing another host's record) is an error at once, never spooled, and a
// refused entry in the spool never holds up the results behind it.
func TestRefusedResultsAreNotSpooledAndBlockNothing(t *testing.T) {
	v := vaulttest.Start(t)
	auths, err := v.Client(t).Sys().ListAuth()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "vault", "backupwatch-writer.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	v.PutPolicy(t, "backupwatch-writer", strings.ReplaceAll(string(b), "AUTH_APPROLE_ACCESSOR", auths["approle/"].Accessor))
	roleID, secretID := v.AppRole(t, "vm", []string{"backupwatch-writer"}, time.Hour, 0)
	dir := t.TempDir()
	roleFile, secretFile := filepath.Join(dir, "role-id"), filepath.Join(dir, "secret-id")
	os.WriteFile(roleFile, []byte(roleID), 0o600)
	os.WriteFile(secretFile, []byte(secretID), 0o600)
	spoolDir := t.TempDir()
	vault := []string{"--vault.address=" + v.Addr, "--vault.timeout=3s", "--spool.dir=" + spoolDir,
		"--vault.role-id-file=" + roleFile, "--vault.secret-id-file=" + secretFile}

	// vm's AppRole writing db: permission denied, for good.
	code, _, errOut := cli(t, append(vault, "record", "--host=db", "--status=success")...)
	if code != exitError || !strings.Contains(errOut, "permission denied") || !strings.Contains(errOut, "refused for good") || strings.Contains(errOut, "kept in") {
		t.Errorf("record --host=db with vm's AppRole: exit %d, stderr %q; want %d, permission denied, refused for good, not kept", code, errOut, exitError)
	}
	if strings.Contains(errOut, secretID) || strings.Contains(errOut, roleID) {
		t.Errorf("stderr shows a credential: %q", errOut)
	}
	if n := spooled(t, storeSpoolOf(t, spoolDir)); len(n) != 0 {
		t.Errorf("a refused result was spooled: %v", n)
	}
	if code, _, errOut := cli(t, append(vault, "record", "--host=vm", "--status=success")...); code != exitOK {
		t.Fatalf("record --host=vm: exit %d: %s", code, errOut)
	}

	// What an older backupwatch spooled for db (refused) waits before
	// vm's failure: the next record of vm delivers vm's, sets db's aside.
	sp := storeSpoolOf(t, spoolDir)
	now := time.Now().UTC()
	old := now.Add(-2 * time.Hour)
	dbEntry := writeSpoolFile(t, sp, old, fmt.Sprintf(`{"version":1,"kind":"result","spooled_at":%q,"host":"db","outcome":"success","at":%q,"message":"db nightly"}`, old.Format(time.RFC3339Nano), old.Format(time.RFC3339Nano)))
	v.Stop(t)
	code, _, errOut = cli(t, append(vault, "record", "--host=vm", "--status=failed", "--message=disk full", "--at="+now.Add(-time.Hour).Format(time.RFC3339))...)
	if code != exitError || !strings.Contains(errOut, "kept in") {
		t.Fatalf("record with Vault down: exit %d, stderr %q; want it kept", code, errOut)
	}

	// flush --list shows both, with the record's summary and no secret.
	code, out, errOut := cli(t, append(vault, "flush", "--list")...)
	if code != exitOK || !strings.Contains(out, strings.TrimSuffix(dbEntry, ".json")) || !strings.Contains(out, `"db nightly"`) || !strings.Contains(out, `"disk full"`) ||
		!strings.Contains(out, "SPOOLED_AT") || strings.Contains(out+errOut, secretID) {
		t.Errorf("flush --list: exit %d\n%s\nstderr %q", code, out, errOut)
	}

	v.Restart(t)
	code, _, errOut = cli(t, append(vault, "record", "--host=vm", "--status=success")...)
	if code != exitOK || !strings.Contains(errOut, "refused for good: set aside") {
		t.Errorf("record with a refused entry of another host waiting: exit %d, stderr %q; want 0 and the entry reported set aside", code, errOut)
	}
	if rec := kvRecord(t, v, "vm"); rec["status"] != "success" || rec["last_failure"] != status.FormatTime(now.Add(-time.Hour)) {
		t.Errorf("vm = %v; want success after the spooled failure", rec)
	}
	if n := spooled(t, sp); len(n) != 0 {
		t.Errorf("still waiting: %v", n)
	}
	if _, err := os.Stat(filepath.Join(sp, "rejected", dbEntry)); err != nil {
		t.Errorf("db's entry not in rejected/: %v", err)
	}

	// flush --discard drops it; a wrong ID is exit 2.
	code, out, errOut = cli(t, append(vault, "flush", "--discard="+strings.TrimSuffix(dbEntry, ".json"))...)
	if code != exitOK || !strings.Contains(out, "discarded") {
		t.Errorf("flush --discard: exit %d, %q, %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(sp, "rejected", dbEntry)); !os.IsNotExist(err) {
		t.Errorf("discarded entry still there: %v", err)
	}
	for _, id := range []string{strings.TrimSuffix(dbEntry, ".json"), "../../etc/passwd"} {
		if code, _, errOut := cli(t, append(vault, "flush", "--discard="+id)...); code != exitUsage || !strings.Contains(errOut, "no such spool entry") {
			t.Errorf("flush --discard=%s: exit %d, %q; want %d", id, code, errOut, exitUsage)
		}
	}

	// A secret id that no longer works is fixed by rotating it: kept.
	v.Client(t).Logical().Write("auth/approle/role/vm/secret-id/destroy", map[string]any{"secret_id": secretID})
	code, _, errOut = cli(t, append(vault, "record", "--host=vm", "--status=failed")...)
	if code != exitError || !strings.Contains(errOut, "kept in") || strings.Contains(errOut, secretID) {
		t.Errorf("record with a destroyed secret id: exit %d, stderr %q; want it kept for after the rotation", code, errOut)
	}
}

// Issue 9, item 4: fifty `record` processes on one KV v1 key, started
// while Vault hangs, lose nothing when it answers again.
func TestConcurrentProcessesOnKVv1LoseNothing(t *testing.T) {
	v := vaulttest.Start(t)
	spoolDir := t.TempDir()
	const writers = 50
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var lastSuccess, lastFailure, last time.Time
	lastStatus := ""
	v.Pause(t)
	cmds := make([]*exec.Cmd, writers)
	outs := make([]*parts.LockedBuffer, writers)
	for i := range writers {
		at := base.Add(time.Duration((i*17)%writers) * time.Second) // out of order
		outcome := status.Success
		if i%3 == 0 {
			outcome = status.Failed
		}
		if outcome == status.Success && at.After(lastSuccess) {
			lastSuccess = at
		}
		if outcome == status.Failed && at.After(lastFailure) {
			lastFailure = at
		}
		if at.After(last) {
			last, lastStatus = at, outcome
		}
		cmd := exec.Command(os.Args[0], "--vault.address="+v.Addr, "--vault.mount=kv1", "--vault.kv-version=1", "--vault.timeout=30s",
			"--spool.dir="+spoolDir, "record", "--host=h", "--status="+outcome, "--at="+at.Format(time.RFC3339), fmt.Sprintf("--message=writer %d", i))
		cmd.Env = append(os.Environ(), runMainEnv+"=1", "VAULT_TOKEN="+v.RootToken)
		outs[i] = &parts.LockedBuffer{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	time.Sleep(time.Second) // let them reach Vault (or the lock) while it hangs
	v.Resume(t)
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("writer %d: %v\n%s", i, err, outs[i])
		}
	}
	sec, err := v.Client(t).Logical().Read("kv1/golemtrust/backup-status/h")
	if err != nil || sec == nil {
		t.Fatalf("read: %v, %v", sec, err)
	}
	got := sec.Data
	if got["status"] != lastStatus || got["last_success"] != status.FormatTime(lastSuccess) || got["last_failure"] != status.FormatTime(lastFailure) {
		t.Errorf("after %d writers: status %v, last_success %v, last_failure %v; want %s, %s, %s", writers,
			got["status"], got["last_success"], got["last_failure"], lastStatus, status.FormatTime(lastSuccess), status.FormatTime(lastFailure))
	}
}
