package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestServeHostPage: runs write through a host's AppRole with the shipped
// writer policy; serve, with the shipped exporter policy (the record's read
// permission, nothing more), shows the host page with their history and
// the failure's log, scrubbed and escaped, and the status page's tile
// links to it.
func TestServeHostPage(t *testing.T) {
	v := vaulttest.Start(t)
	v.PutShippedPolicies(t, "backupwatch-writer", "backupwatch-exporter")
	dir := t.TempDir()
	wRole, wSecret := v.AppRole(t, "db", []string{"backupwatch-writer"}, time.Hour, 0)
	e := newRunEnv(t, v)
	e.g.store.vault.Token = ""
	e.g.store.vault.RoleIDFile = writeSecret(t, dir, "w-role", wRole)
	e.g.store.vault.SecretIDFile = writeSecret(t, dir, "w-secret", wSecret)
	env := append(os.Environ(), "RESTIC_PASSWORD=pw-"+testResticPassword)
	for i, script := range []string{
		`echo "all fine"`,
		`echo "<script>alert(1)</script> password $RESTIC_PASSWORD"; echo "Fatal: unable to open repository" >&2; exit 1`,
	} {
		o := &runOptions{host: "db", exit3: status.Failed, lockFile: filepath.Join(dir, "l"), args: []string{"sh", "-c", script}, env: env}
		if got := exitStatus(runRun(context.Background(), e.g, o), io.Discard); got != i {
			t.Fatalf("run %d: exit %d\n%s", i, got, e.err.String())
		}
	}

	rRole, rSecret := v.AppRole(t, "exporter", []string{"backupwatch-exporter"}, time.Hour, 0)
	ex := startExporter(t, []string{
		"--vault.address=" + v.Addr,
		"--vault.role-id-file=" + writeSecret(t, dir, "r-role", rRole),
		"--vault.secret-id-file=" + writeSecret(t, dir, "r-secret", rSecret),
	}, "--refresh.interval=1s")
	ex.waitFor(t, "db's failure", func(s scrape) bool { return s.status("db") == status.Failed })

	code, body := ex.get(t, "/host/db")
	if code != 200 {
		t.Fatalf("GET /host/db: %d\n%s", code, body)
	}
	for _, want := range []string{"Last 2 runs", "Fatal: unable to open repository", "&lt;script&gt;alert(1)&lt;/script&gt;", "last backup failed"} {
		if !strings.Contains(body, want) {
			t.Errorf("host page lacks %q", want)
		}
	}
	if strings.Contains(body, testResticPassword) || strings.Contains(body, "<script>") {
		t.Errorf("host page holds the password or a script:\n%s", body)
	}
	if _, page := ex.get(t, "/"); !strings.Contains(page, `href="host/db"`) {
		t.Error("the status page's tile does not link to the host page")
	}
	if code, _ := ex.get(t, "/host/nope"); code != 404 {
		t.Errorf("GET /host/nope: %d, want 404", code)
	}
	if _, metrics := ex.get(t, "/metrics"); strings.Contains(metrics, "unable to open repository") || strings.Contains(metrics, "@~") {
		for _, l := range strings.Split(metrics, "\n") {
			if strings.Contains(l, "alert(1)") || strings.Contains(l, "@~") {
				t.Errorf("in the metrics: %s", l)
			}
		}
	}
}
