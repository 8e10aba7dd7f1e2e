package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodConfig := file("good.yml", "hosts: [auth, db]\ntitle: Golem Trust\n", 0o644)
	typoConfig := file("typo.yml", "hosts: [auth]\nhots: [db]\n", 0o644)
	jobRetention := file("jobretention.yml", "hosts: [db]\nretention:\n  - {host: db, job: wal, keep-hourly: 48}\n  - {host: db, keep-daily: 7}\n", 0o644)
	shadowedRetention := file("shadowed.yml", "hosts: [db]\nretention:\n  - {host: db, keep-daily: 7}\n  - {host: db, job: wal, keep-hourly: 48}\n", 0o644)
	webConfig := file("web.yml", "basic_auth_users:\n  ops: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG\n", 0o644)
	badWebConfig := file("badweb.yml", "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n", 0o644)
	roleID := file("role-id", "role-1234\n", 0o644)
	const secret = "s3cr3t-secret-id-value"
	openSecret := file("secret-id-open", secret+"\n", 0o644)
	privateSecret := file("secret-id", secret+"\n", 0o600)
	store := "--store.dir=" + filepath.Join(dir, "records")
	vault := []string{"--vault.address=http://127.0.0.1:1", "--vault.role-id-file=" + roleID}

	tests := []struct {
		name    string
		args    []string
		want    int
		wantOut string // in stdout on success, in stderr otherwise
	}{
		{"defaults", []string{store, "check"}, exitOK, "OK"},
		{"config file", []string{store, "check", "--config.file=" + goodConfig, "--host=metrics"}, exitOK, "expected hosts: 3"},
		{"web config", []string{store, "check", "--web.config.file=" + webConfig}, exitOK, "valid"},
		{"approle", append(vault, "--vault.secret-id-file="+privateSecret, "check"), exitOK, "vault http://127.0.0.1:1"},
		{"unknown key", []string{store, "check", "--config.file=" + typoConfig}, exitUsage, "field hots not found"},
		{"retention per job", []string{store, "check", "--config.file=" + jobRetention}, exitOK, "OK"},
		{"retention a rule before shadows", []string{store, "check", "--config.file=" + shadowedRetention}, exitUsage, "retention[1]: never applies"},
		{"missing config", []string{store, "check", "--config.file=" + filepath.Join(dir, "none.yml")}, exitUsage, "none.yml"},
		{"bad host", []string{store, "check", "--host=db;rm -rf"}, exitUsage, "not allowed"},
		{"bad web config", []string{store, "check", "--web.config.file=" + badWebConfig}, exitUsage, "--web.config.file"},
		{"bad interval", []string{store, "check", "--refresh.interval=0s"}, exitUsage, "--refresh.interval"},
		{"bad concurrency", []string{store, "check", "--refresh.concurrency=0"}, exitUsage, "--refresh.concurrency"},
		{"open secret file", append(vault, "--vault.secret-id-file="+openSecret, "check"), exitUsage, "readable by group or others"},
		{"bad kv version", []string{"--vault.address=http://127.0.0.1:1", "--vault.kv-version=3", "check"}, exitUsage, "--vault.kv-version"},
		{"store dir is a file", []string{"--store.dir=" + goodConfig, "check"}, exitUsage, "not a directory"},
		{"serve's flags line", []string{store, "check", "--web.listen-address=:10036", "--web.listen-address=127.0.0.1:9999", "--web.config.file=" + webConfig, "--refresh.interval=30s", "--refresh.concurrency=4", "--config.file=" + goodConfig, "--web.external-url=https://backupwatch.example.org/"}, exitOK, "listen: :10036, 127.0.0.1:9999"},
		{"bad listen address", []string{store, "check", "--web.listen-address=10036"}, exitUsage, `--web.listen-address "10036": not host:port`},
		{"bad listen port", []string{store, "check", "--web.listen-address=:100360"}, exitUsage, "--web.listen-address"},
		{"bad external url", []string{store, "check", "--web.external-url=ftp://x"}, exitUsage, "--web.external-url"},
		{"online.role without online", []string{store, "check", "--online.role=exporter"}, exitUsage, "need --online"},
		{"bad online.host", []string{store, "check", "--online", "--online.host=../db"}, exitUsage, "--online.host: host name"},
		{"every bad global flag at once", []string{"--vault.address=not-a-url", "--vault.timeout=0s", "--vault.kv-version=9", "check"}, exitUsage, "--vault.kv-version must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("VAULT_TOKEN", "")
			code, out, errOut := cli(t, tt.args...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.want, out, errOut)
			}
			where := out
			if tt.want != exitOK {
				where = errOut
			}
			if !strings.Contains(where, tt.wantOut) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.wantOut, out, errOut)
			}
			if strings.Contains(out+errOut, secret) {
				t.Errorf("the secret id is in the output")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "records")); err == nil {
		t.Errorf("check created the local store directory")
	}
}

// TestCheckOnline: check --online logs in with the real credentials and
// says whether they can do their job, writing nothing.
func TestCheckOnline(t *testing.T) {
	v := vaulttest.Start(t)
	v.PutShippedPolicies(t, "backupwatch-writer", "backupwatch-exporter", "backupwatch-restore-tester")
	dir := t.TempDir()
	login := func(role, policy string) []string {
		roleID, secretID := v.AppRole(t, role, []string{policy}, time.Hour, 0)
		r, s := filepath.Join(dir, role+".role-id"), filepath.Join(dir, role+".secret-id")
		for p, c := range map[string]string{r: roleID, s: secretID} {
			if err := os.WriteFile(p, []byte(c+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return []string{"--vault.address=" + v.Addr, "--vault.role-id-file=" + r, "--vault.secret-id-file=" + s}
	}
	db := login("db", "backupwatch-writer")
	exporter := login("exporter", "backupwatch-exporter")
	tester := login("restore-tester", "backupwatch-restore-tester")
	t.Setenv("VAULT_TOKEN", "")
	if code, _, errOut := cli(t, append(db, "record", "--status=success", "--host=db")...); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	tests := []struct {
		name    string
		args    []string
		want    int
		wantOut string
	}{
		{"writer, its own host", append(db, "check", "--online", "--online.host=db"), exitOK, "can write kv/golemtrust/backup-status/db (nothing was written)"},
		{"writer, another host", append(db, "check", "--online", "--online.host=auth"), exitError, "cannot write kv/golemtrust/backup-status/auth"},
		{"writer as exporter", append(db, "check", "--online", "--online.role=exporter"), exitError, "the exporter must list the records"},
		{"exporter", append(exporter, "check", "--online", "--online.role=exporter", "--web.listen-address=:10036"), exitOK, "can list (1 records)"},
		{"exporter as writer", append(exporter, "check", "--online", "--online.host=db"), exitError, "cannot write kv/golemtrust/backup-status/db"},
		{"restore tester", append(tester, "check", "--online", "--online.role=restore-tester"), exitOK, "can write kv/golemtrust/backup-status/restore-test"},
		{"wrong secret id", []string{"--vault.address=" + v.Addr, "--vault.role-id-file=" + filepath.Join(dir, "db.role-id"), "--vault.secret-id-file=" + filepath.Join(dir, "exporter.secret-id"), "check", "--online", "--online.host=db"}, exitError, "approle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, tt.args...)
			if code != tt.want || !strings.Contains(out+errOut, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tt.want, tt.wantOut, out, errOut)
			}
			if tt.want != exitOK && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr is not one line: %q", errOut)
			}
		})
	}
	// Nothing but db's own record was written (its history is its
	// versions on KV v2: no key of its own).
	sec, err := v.Client(t).Logical().List("kv/metadata/golemtrust/backup-status")
	if err != nil || sec == nil || fmt.Sprint(sec.Data["keys"]) != "[db]" {
		t.Errorf("records after check --online: %v, %v; want only db", sec, err)
	}
}
