package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/statusview"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// cli runs backupwatch with args and returns its exit status and output.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRecordStatusForgetLocal(t *testing.T) {
	dir := t.TempDir()
	store := "--store.dir=" + dir
	yesterday := time.Now().Add(-26 * time.Hour).UTC().Format(time.RFC3339)
	for _, args := range [][]string{
		{store, "record", "--status=success", "--host=db", "--at=" + yesterday},
		{store, "record", "--status=failed", "--host=db", "--exit-code=1", "--message=repository is locked", "--duration=2m"},
		{store, "record", "--status=success", "--host=auth"},
		{store, "restore-test", "record", "--result=passed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m", "--notes=Merchants Guild database restored successfully to staging"},
	} {
		if code, _, errOut := cli(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "restore-test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rt map[string]string
	if err := json.Unmarshal(b, &rt); err != nil {
		t.Fatal(err)
	}
	if rt["time_to_restore_minutes"] != "47" || rt["result"] != "passed" || rt["host_tested"] != "db.golemtrust.am" || rt["last_test"] == "" {
		t.Errorf("restore test record = %v", rt)
	}

	code, out, _ := cli(t, store, "status", "-o", "json")
	if code != exitUnhealthy {
		t.Errorf("status with a failed host: exit %d, want %d", code, exitUnhealthy)
	}
	var rep statusview.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if len(rep.Hosts) != 2 || rep.Hosts[1].Host != "db" || rep.Hosts[1].Status != "failed" || !rep.Hosts[1].Overdue || rep.Hosts[0].Overdue {
		t.Errorf("status report = %+v", rep.Hosts)
	}
	if rep.RestoreTest == nil || rep.RestoreTest.Result != "passed" {
		t.Errorf("restore test = %+v", rep.RestoreTest)
	}

	if code, out, _ := cli(t, store, "status", "--host=auth"); code != exitOK || !strings.Contains(out, "auth  success") || strings.Contains(out, "db ") {
		t.Errorf("status --host=auth: exit %d\n%s", code, out)
	}
	if code, out, _ := cli(t, store, "status", "--host=graylog-1"); code != exitUnhealthy || !strings.Contains(out, "graylog-1  unknown (overdue)") {
		t.Errorf("status of a host with no record: exit %d\n%s", code, out)
	}

	if code, _, errOut := cli(t, store, "forget", "--host=db"); code != exitOK {
		t.Fatalf("forget: %d %s", code, errOut)
	}
	if code, out, _ := cli(t, store, "status"); code != exitOK || strings.Contains(out, "\ndb ") {
		t.Errorf("status after forget: exit %d\n%s", code, out)
	}
}

func TestRecordRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	store := "--store.dir=" + dir
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"record", "--status=success", "--host=restore-test"}, "reserved"},
		{[]string{"record", "--status=success", "--host=../etc/passwd"}, `host name "../etc/passwd": empty label`},
		{[]string{"record", "--status=success", "--host=" + strings.Repeat("a", 300)}, "more than 253"},
		{[]string{"record", "--status=maybe", "--host=db"}, "enum value"},
		{[]string{"record", "--status=success", "--host=db", "--at=last tuesday"}, "--at: not a time"},
		{[]string{"record", "--status=success", "--host=db", "--at="}, "--at: empty"},
		{[]string{"record", "--status=success", "--host=db", "--at=2099-01-01T00:00:00Z"}, "--at: 2099-01-01T00:00:00+00:00 is"},
		{[]string{"record", "--status=success", "--host=db", "--at=" + time.Now().Add(2*time.Hour).Format(time.RFC3339)}, "more than the 5m0s clock skew allowed"},
		{[]string{"restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=1m", "--at=2099-01-01T00:00:00Z"}, "--at: 2099-01-01T00:00:00+00:00 is"},
		{[]string{"restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=1m", "--at="}, "--at: empty"},
		{[]string{"restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=soon"}, `--time-to-restore: not a duration: "soon"`},
		{[]string{"status", "--host=bad host"}, "not allowed"},
		{[]string{"--vault.kv-version=3", "--vault.address=http://127.0.0.1:1", "status"}, "--vault.kv-version"},
	} {
		code, _, errOut := cli(t, append([]string{store}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 1 { // at most the lock file
		t.Errorf("refused input wrote to the store: %v", entries)
	}
}

func TestRecordAgainstVault(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	vault := "--vault.address=" + v.Addr
	if code, _, errOut := cli(t, vault, "record", "--status=success", "--host=db"); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	// Without a restore test status exits 3, as RestoreTestOverdue fires.
	if code, _, errOut := cli(t, vault, "restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=5m"); code != exitOK {
		t.Fatalf("restore-test record: exit %d: %s", code, errOut)
	}
	if code, out, _ := cli(t, vault, "status"); code != exitOK || !strings.Contains(out, "db    success") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	// Same commands on KV v1, the version detected.
	if code, _, errOut := cli(t, vault, "--vault.mount=kv1", "record", "--status=failed", "--host=db"); code != exitOK {
		t.Fatalf("record on kv1: exit %d: %s", code, errOut)
	}
	sec, err := v.Client(t).Logical().Read("kv1/golemtrust/backup-status/db")
	if err != nil || sec == nil || sec.Data["status"] != "failed" {
		t.Errorf("kv1 record = %v, %v", sec, err)
	}

	// One line, saying which and where, no secret.
	t.Setenv("VAULT_TOKEN", "hvs.wrong-token-value")
	code, _, errOut := cli(t, vault, "record", "--status=success", "--host=db")
	if code != exitError || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "token rejected") || strings.Contains(errOut, "wrong-token-value") {
		t.Errorf("wrong token: exit %d, stderr %q", code, errOut)
	}
	v.Stop(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	code, _, errOut = cli(t, vault, "--vault.timeout=2s", "status")
	if code != exitError || !strings.Contains(errOut, "vault unreachable at "+v.Addr) {
		t.Errorf("vault down: exit %d, stderr %q", code, errOut)
	}
}
