package main

import (
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestRecordLaterFailureBecomesTheStatus is issue 16's first reproduction,
// on KV v2 (check-and-set writes) and on the local store: a success dated
// 290 s ahead, then a failure recorded now. The failure arrived later and
// is the status; a result that does not become the status is never logged
// as recorded.
func TestRecordLaterFailureBecomesTheStatus(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	checkLaterFailure(t, "--vault.address="+v.Addr)
}

func TestRecordLaterFailureBecomesTheStatusLocal(t *testing.T) {
	checkLaterFailure(t, "--store.dir="+t.TempDir())
}

func checkLaterFailure(t *testing.T, store string) {
	t.Helper()
	now := time.Now()
	ahead := now.Add(290 * time.Second).UTC().Format(time.RFC3339)
	if code, _, errOut := cli(t, store, "record", "--status=success", "--host=skew", "--at="+ahead); code != exitOK {
		t.Fatalf("%s: record success ahead: exit %d: %s", store, code, errOut)
	}
	code, _, errOut := cli(t, store, "record", "--status=failed", "--host=skew", "--message=disk full")
	if code != exitOK || !strings.Contains(errOut, "backup outcome recorded") {
		t.Fatalf("%s: record failure: exit %d: %s", store, code, errOut)
	}
	code, out, _ := cli(t, store, "status", "--host=skew", "-o", "json")
	if code != exitUnhealthy || !strings.Contains(out, `"status": "failed"`) {
		t.Errorf("%s: status after the failure: exit %d\n%s", store, code, out)
	}

	// A result older than the allowance (a backfill) is kept as
	// history, and said to be so.
	old := now.Add(-time.Hour).UTC().Format(time.RFC3339)
	code, _, errOut = cli(t, store, "record", "--status=success", "--host=skew", "--at="+old)
	if code != exitOK || strings.Contains(errOut, "backup outcome recorded") || !strings.Contains(errOut, "not the status") {
		t.Errorf("%s: record an older success: exit %d: %s", store, code, errOut)
	}
	if _, out, _ := cli(t, store, "status", "--host=skew", "-o", "json"); !strings.Contains(out, `"status": "failed"`) {
		t.Errorf("%s: an older success became the status:\n%s", store, out)
	}
}
