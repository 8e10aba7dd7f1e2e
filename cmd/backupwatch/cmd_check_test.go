package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"missing config", []string{store, "check", "--config.file=" + filepath.Join(dir, "none.yml")}, exitUsage, "none.yml"},
		{"bad host", []string{store, "check", "--host=db;rm -rf"}, exitUsage, "not allowed"},
		{"bad web config", []string{store, "check", "--web.config.file=" + badWebConfig}, exitUsage, "--web.config.file"},
		{"bad interval", []string{store, "check", "--refresh.interval=0s"}, exitUsage, "--refresh.interval"},
		{"bad concurrency", []string{store, "check", "--refresh.concurrency=0"}, exitUsage, "--refresh.concurrency"},
		{"open secret file", append(vault, "--vault.secret-id-file="+openSecret, "check"), exitUsage, "readable by group or others"},
		{"bad kv version", []string{"--vault.address=http://127.0.0.1:1", "--vault.kv-version=3", "check"}, exitUsage, "--vault.kv-version"},
		{"store dir is a file", []string{"--store.dir=" + goodConfig, "check"}, exitUsage, "not a directory"},
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
