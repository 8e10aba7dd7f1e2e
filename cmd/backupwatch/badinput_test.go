package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestBadInputRefused: every flag a script or an operator can get wrong is
// refused with exit 2 and one line, before anything is written to Vault or
// kept in the spool (a result spooled for a store that cannot exist would
// wait there for ever).
func TestBadInputRefused(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	if err := os.Mkdir(spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "ran")
	base := []string{"--vault.address=" + v.Addr, "--spool.dir=" + spoolDir}
	record := []string{"record", "--status=success", "--host=db"}
	runTouch := []string{"run", "--host=db", "--log.file=", "--lock.file=" + filepath.Join(dir, "lock"), "--", "touch", marker}
	rtRecord := []string{"restore-test", "record", "--result=passed", "--time-to-restore=47m"}
	rtRun := []string{"restore-test", "run", "--repo=" + filepath.Join(dir, "repo"), "--restic.binary=/nonexistent/restic"}

	tests := []struct {
		name   string
		global []string // a bad global flag; also given to `check`
		args   []string
		want   string // in the one line on stderr
	}{
		{"record with an empty host", nil, []string{"record", "--status=success", "--host="}, "--host is empty"},
		{"run with an empty host", nil, []string{"run", "--host=", "--log.file=", "--", "touch", marker}, "--host is empty"},
		{"restore test of an empty host", nil, append(rtRecord, "--host-tested="), "--host-tested"},
		{"restore test of ../x", nil, append(rtRecord, "--host-tested=../x"), "--host-tested"},
		{"restore test run of an empty host", nil, append(rtRun, "--host-tested="), "--host-tested"},
		{"restore test run of ../x", nil, append(rtRun, "--host-tested=../x"), "--host-tested"},
		{"kv version 3", []string{"--vault.kv-version=3"}, record, "--vault.kv-version"},
		{"zero timeout", []string{"--vault.timeout=0s"}, record, "--vault.timeout must be positive"},
		{"negative timeout", []string{"--vault.timeout=-5s"}, runTouch, "--vault.timeout must be positive"},
		{"address not a URL", []string{"--vault.address=not-a-url"}, record, "not a URL"},
		{"address host:port", []string{"--vault.address=vault.example:8200"}, record, "not a URL"},
		{"address ftp", []string{"--vault.address=ftp://vault.example:8200"}, runTouch, `scheme "ftp"`},
		{"address without host", []string{"--vault.address=http://"}, record, "no host"},
		{"address bad port", []string{"--vault.address=http://127.0.0.1:99999"}, record, "port"},
		{"prefix escapes the mount", []string{"--vault.prefix=../.."}, record, `--vault.prefix "../..": has a ".." segment`},
		{"prefix into another mount", []string{"--vault.prefix=../../kv1/escaped"}, runTouch, "--vault.prefix"},
		{"prefix with an empty segment", []string{"--vault.prefix=golemtrust//backup-status"}, record, "empty segment"},
		{"empty prefix", []string{"--vault.prefix=/"}, record, "--vault.prefix"},
		{"mount with ..", []string{"--vault.mount=kv/../kv1"}, record, "--vault.mount"},
		{"empty mount", []string{"--vault.mount="}, append(rtRecord, "--host-tested=db"), "--vault.mount"},
		{"secret id without role id", []string{"--vault.secret-id-file=" + filepath.Join(dir, "s")}, record, "--vault.secret-id-file needs --vault.role-id-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			global := append([]string{}, base...)
			if len(tt.global) > 0 && strings.HasPrefix(tt.global[0], "--vault.address=") {
				global = global[1:] // the bad address replaces the good one
			}
			global = append(global, tt.global...)
			cmds := [][]string{append(append([]string{}, global...), tt.args...)}
			if tt.global != nil {
				cmds = append(cmds, append(append([]string{}, global...), "check"))
			}
			for _, args := range cmds {
				code, out, errOut := cli(t, args...)
				if code != exitUsage {
					t.Errorf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, exitUsage, out, errOut)
					continue
				}
				if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.Contains(errOut, tt.want) {
					t.Errorf("%v: stderr %q, want one line with %q", args, errOut, tt.want)
				}
			}
		})
	}

	if _, err := os.Stat(marker); err == nil {
		t.Errorf("run started the backup program despite bad input")
	}
	if entries, _ := os.ReadDir(spoolDir); len(entries) != 0 {
		t.Errorf("refused input was spooled: %v", entries)
	}
	c := v.Client(t)
	for _, p := range []string{"kv/metadata/", "kv/metadata/golemtrust/backup-status", "kv1/", "kv1/escaped", "kv1/golemtrust/backup-status"} {
		if sec, err := c.Logical().List(p); err != nil || sec != nil {
			t.Errorf("refused input wrote to Vault: list %s = %v, %v", p, sec, err)
		}
	}

	// The same commands with good flags do write: the checks above can see a write.
	if code, _, errOut := cli(t, append(base, record...)...); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	if sec, err := c.Logical().Read("kv/data/golemtrust/backup-status/db"); err != nil || sec == nil {
		t.Errorf("good record not written: %v, %v", sec, err)
	}
}
