package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestStatusExit: status is a monitoring command; it says all is well (0)
// only when there are hosts, all fine, and the restore test did not fail.
func TestStatusExit(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "hosts.yml")
	if err := os.WriteFile(config, []byte("hosts: [db, auth]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	fine := filepath.Join(dir, "fine")
	rtFailed := filepath.Join(dir, "rt-failed")
	for _, d := range []string{empty, fine, rtFailed} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"--store.dir=" + fine, "record", "--status=success", "--host=db"},
		{"--store.dir=" + fine, "restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=4m"},
		{"--store.dir=" + rtFailed, "record", "--status=success", "--host=db"},
		{"--store.dir=" + rtFailed, "restore-test", "record", "--result=failed", "--host-tested=db", "--time-to-restore=4m"},
	} {
		if code, _, errOut := cli(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	tests := []struct {
		name    string
		args    []string
		want    int
		wantOut string // in stdout+stderr
	}{
		{"all fine", []string{"--store.dir=" + fine, "status"}, exitOK, "db    success"},
		{"no hosts", []string{"--store.dir=" + empty, "status"}, exitUnhealthy, "no hosts"},
		{"no hosts, json", []string{"--store.dir=" + empty, "status", "-o", "json"}, exitUnhealthy, `"hosts": []`},
		{"restore test failed", []string{"--store.dir=" + rtFailed, "status"}, exitUnhealthy, "restore test: failed"},
		{"restore test failed, one host asked for", []string{"--store.dir=" + rtFailed, "status", "--host=db"}, exitOK, "restore test: failed"},
		{"expected hosts from the config file", []string{"--store.dir=" + fine, "status", "--config.file=" + config}, exitUnhealthy, "auth  unknown (overdue)"},
		{"expected hosts, none recorded", []string{"--store.dir=" + empty, "status", "--config.file=" + config}, exitUnhealthy, "db    unknown"},
		{"config file and --host", []string{"--store.dir=" + fine, "status", "--config.file=" + config, "--host=db"}, exitOK, "db    success"},
		{"bad config file", []string{"--store.dir=" + fine, "status", "--config.file=" + filepath.Join(dir, "none.yml")}, exitUsage, "none.yml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, tt.args...)
			if code != tt.want || !strings.Contains(out+errOut, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tt.want, tt.wantOut, out, errOut)
			}
		})
	}
}

// TestReadingCommandsRefuseMissingStoreDir: a mistyped --store.dir is not
// created and reported as an empty fleet by the commands that only read.
func TestReadingCommandsRefuseMissingStoreDir(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "recrods")
	// Cancelled: a serve that does not refuse stops at once rather than serving.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"status"},
		{"serve", "--web.listen-address=127.0.0.1:0"},
		{"textfile", "--output=" + filepath.Join(dir, "backup.prom")},
		{"forget", "--host=db"},
	} {
		var out, errBuf bytes.Buffer
		code := runContext(ctx, append([]string{"--store.dir=" + typo}, args...), &out, &errBuf)
		errOut := errBuf.String()
		if code != exitUsage || !strings.Contains(errOut, "--store.dir "+typo+" does not exist") {
			t.Errorf("%v: exit %d, stderr %q; want %d and the directory named", args, code, errOut, exitUsage)
		}
	}
	if _, err := os.Stat(typo); err == nil {
		t.Errorf("a reading command created %s", typo)
	}
	if code, _, errOut := cli(t, "--store.dir="+typo, "record", "--status=success", "--host=db"); code != exitOK {
		t.Errorf("record into a new store directory: exit %d: %s", code, errOut)
	}
}

// TestForgetUnknownHost: forgetting a name the store has no record of says
// so and exits 1, on the local store and on Vault; a known host goes.
func TestForgetUnknownHost(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	for _, store := range []string{"--store.dir=" + t.TempDir(), "--vault.address=" + v.Addr} {
		if code, _, errOut := cli(t, store, "record", "--status=success", "--host=db"); code != exitOK {
			t.Fatalf("record: exit %d: %s", code, errOut)
		}
		code, _, errOut := cli(t, store, "forget", "--host=dbb")
		if code != exitError || !strings.Contains(errOut, "no record of host dbb") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s: forget of an unknown host: exit %d, stderr %q", store, code, errOut)
		}
		if code, _, errOut := cli(t, store, "forget", "--host=db"); code != exitOK {
			t.Errorf("%s: forget db: exit %d: %s", store, code, errOut)
		}
		if code, _, errOut := cli(t, store, "forget", "--host=db"); code != exitError || !strings.Contains(errOut, "no record of host db") {
			t.Errorf("%s: forget db twice: exit %d, stderr %q", store, code, errOut)
		}
	}
}
