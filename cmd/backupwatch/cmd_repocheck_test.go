package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/repocheck"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestRepoCheckVault: repo-check records the repository's view at
// kv/golemtrust/backup-checks/repository/<name> with the shipped
// backupwatch-repo-checker policy, which can read the repository password
// and write nothing else; the shipped exporter policy reads that record and
// nothing secret.
func TestRepoCheckVault(t *testing.T) {
	repo, env, _ := backedUp(t)
	v := vaulttest.Start(t)
	root := v.Client(t)
	for _, name := range []string{"backupwatch-repo-checker", "backupwatch-exporter"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "vault", name+".hcl"))
		if err != nil {
			t.Fatal(err)
		}
		v.PutPolicy(t, name, string(b))
	}
	if _, err := root.KVv2("kv").Put(t.Context(), "golemtrust/restic/fleet", map[string]any{"password": testResticPassword}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.KVv2("kv").Put(t.Context(), "golemtrust/backup-status/db.golemtrust.am", map[string]any{"status": "success"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	login := func(role, policy string) (*api.Client, []string) {
		roleID, secretID := v.AppRole(t, role, []string{policy}, time.Hour, 0)
		r, s := filepath.Join(dir, role+".role-id"), filepath.Join(dir, role+".secret-id")
		os.WriteFile(r, []byte(roleID+"\n"), 0o600)
		os.WriteFile(s, []byte(secretID+"\n"), 0o600)
		c, err := root.Clone()
		if err != nil {
			t.Fatal(err)
		}
		sec, err := c.Logical().Write("auth/approle/login", map[string]any{"role_id": roleID, "secret_id": secretID})
		if err != nil {
			t.Fatal(err)
		}
		c.SetToken(sec.Auth.ClientToken)
		return c, []string{"--vault.address=" + v.Addr, "--vault.role-id-file=" + r, "--vault.secret-id-file=" + s}
	}
	checker, checkerArgs := login("repo-checker", "backupwatch-repo-checker")
	exporter, _ := login("exporter", "backupwatch-exporter")

	for _, e := range env {
		if k, val, ok := strings.Cut(e, "="); ok && strings.HasPrefix(k, "RESTIC_") {
			t.Setenv(k, val)
		}
	}
	t.Setenv("VAULT_TOKEN", "")
	code, out, errOut := cli(t, append(checkerArgs, "repo-check", "--repo="+repo, "--name=fleet", "--read-data-subsets=2", "--host=mail.golemtrust.am")...)
	if code != exitOK {
		t.Fatalf("repo-check: exit %d\n%s%s", code, out, errOut)
	}
	sec, err := root.KVv2("kv").Get(t.Context(), "golemtrust/backup-checks/repository/fleet")
	if err != nil {
		t.Fatal(err)
	}
	rec := repocheck.Parse("fleet", sec.Data)
	if rec.Status != "success" || rec.Hosts["db.golemtrust.am"].Snapshots != 1 || rec.Hosts["mail.golemtrust.am"].Snapshots != 0 ||
		rec.DataCheck != "passed" || rec.DataSubset != "1/2" || rec.DataCheckNext != 2 || len(rec.Problems) > 0 {
		b, _ := json.Marshal(sec.Data)
		t.Errorf("record: %s (problems %v)", b, rec.Problems)
	}

	tests := []struct {
		name   string
		c      *api.Client
		write  bool
		path   string
		wantOK bool
	}{
		{"checker reads the repository password", checker, false, "kv/data/golemtrust/restic/fleet", true},
		{"checker writes its record", checker, true, "kv/data/golemtrust/backup-checks/repository/offsite", true},
		{"checker cannot write a host", checker, true, "kv/data/golemtrust/backup-status/db.golemtrust.am", false},
		{"checker cannot write the restore test", checker, true, "kv/data/golemtrust/backup-status/restore-test", false},
		{"checker cannot write a host's restore test", checker, true, "kv/data/golemtrust/backup-checks/restore-test/db", false},
		{"checker cannot read a host", checker, false, "kv/data/golemtrust/backup-status/db.golemtrust.am", false},
		{"exporter reads the repository record", exporter, false, "kv/data/golemtrust/backup-checks/repository/fleet", true},
		{"exporter cannot write it", exporter, true, "kv/data/golemtrust/backup-checks/repository/fleet", false},
		{"exporter cannot read the password", exporter, false, "kv/data/golemtrust/restic/fleet", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.write {
				_, err = tt.c.Logical().Write(tt.path, map[string]any{"data": map[string]any{"status": "success"}})
			} else {
				_, err = tt.c.Logical().Read(tt.path)
			}
			if (err == nil) != tt.wantOK {
				t.Errorf("allowed %v (%v), want %v", err == nil, err, tt.wantOK)
			}
		})
	}
	if l, err := exporter.Logical().List("kv/metadata/golemtrust/backup-checks/repository"); err != nil || l == nil {
		t.Errorf("exporter cannot list the repository records: %v", err)
	}
}

// TestRepoCheckBadInput: bad flags exit 2 and write nothing; a repository
// that cannot be checked (restic missing, wrong password, no repository)
// is a recorded failure, exit 1, its hosts left as last listed, never the
// password in the record.
func TestRepoCheckBadInput(t *testing.T) {
	repo, env, _ := backedUp(t)
	for _, e := range env {
		if k, val, ok := strings.Cut(e, "="); ok && strings.HasPrefix(k, "RESTIC_") && k != "RESTIC_PASSWORD" {
			t.Setenv(k, val)
		}
	}
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte(testResticPassword+"\n"), 0o600)
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("not-the-password\n"), 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	contradiction := filepath.Join(dir, "backupwatch.yml")
	os.WriteFile(contradiction, []byte("retention:\n  - {host: db, keep-daily: 7}\n  - {host: db, keep-daily: 30}\n"), 0o600)
	store := "--store.dir=" + filepath.Join(dir, "records")
	recordFile := filepath.Join(dir, "records", "checks", "repository", "fleet.json")

	for _, args := range [][]string{
		{store, "repo-check", "--repo=" + repo, "--name=bad name"},
		{store, "repo-check", "--repo=" + repo, "--name=fleet", "--read-data-subsets=-1"},
		{store, "repo-check", "--repo=" + repo, "--name=fleet", "--host=not a host"},
		{store, "repo-check", "--repo=/"},
		{store, "repo-check", "--repo=" + repo, "--name=fleet", "--restic.timeout=0s"},
		{store, "repo-check", "--repo=" + repo, "--name=fleet", "--config.file=" + contradiction},
	} {
		code, _, errOut := cli(t, args...)
		if code != exitUsage || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args[1:], code, errOut)
		}
	}
	if _, err := os.Stat(recordFile); err == nil {
		t.Fatalf("bad flags wrote a record")
	}

	code, _, errOut := cli(t, store, "repo-check", "--repo="+repo, "--name=fleet", "--password-file="+pw)
	if code != exitOK {
		t.Fatalf("repo-check: exit %d: %s", code, errOut)
	}
	good := readRepoRecord(t, recordFile)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"restic missing", []string{"--repo=" + repo, "--password-file=" + pw, "--restic.binary=" + filepath.Join(dir, "no-restic")}, "restic not found"},
		{"wrong password", []string{"--repo=" + repo, "--password-file=" + wrong}, "wrong password"},
		{"no repository", []string{"--repo=" + filepath.Join(dir, "nothing-here"), "--password-file=" + pw}, "repository"},
		// restic hangs reading a password file nobody writes.
		{"restic hangs", []string{"--repo=" + repo, "--password-file=" + fifo, "--restic.timeout=1s"}, "--restic.timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{store, "repo-check", "--name=fleet"}, tt.args...)
			code, _, errOut := cli(t, args...)
			if code != exitError {
				t.Errorf("exit %d, want 1: %s", code, errOut)
			}
			got := readRepoRecord(t, recordFile)
			if got.Status != "failed" || !strings.Contains(strings.ToLower(got.Message), tt.want) || strings.Contains(got.Message, testResticPassword) {
				t.Errorf("status %s, message %q; want failed, saying %q", got.Status, got.Message, tt.want)
			}
			if got.Hosts["db.golemtrust.am"] != good.Hosts["db.golemtrust.am"] || !got.LastSuccess.Equal(good.LastSuccess) {
				t.Errorf("hosts or last success changed: %+v, %v", got.Hosts, got.LastSuccess)
			}
			t.Logf("recorded: %s", got.Message)
		})
	}
}

func readRepoRecord(t *testing.T, path string) repocheck.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return repocheck.Parse(filepath.Base(path), doc)
}
