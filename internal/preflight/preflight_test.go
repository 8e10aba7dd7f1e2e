package preflight

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// said collects what the checks say.
type said []string

func (s *said) say(format string, args ...any) { *s = append(*s, fmt.Sprintf(format, args...)) }

func TestListenAddresses(t *testing.T) {
	tests := []struct {
		addrs   []string
		wantErr string // "" for none
	}{
		{nil, ""},
		{[]string{":10036", "127.0.0.1:9999", "[::1]:http"}, ""},
		{[]string{"10036"}, `--web.listen-address "10036": not host:port (e.g. :10036)`},
		{[]string{":100360"}, `--web.listen-address ":100360"`},
		{[]string{":nosuchservice"}, `port "nosuchservice"`},
		{[]string{":1", "bad", "also bad"}, `"also bad"`},
		{[]string{strings.Repeat("x", 500)}, "…"},
	}
	for _, tt := range tests {
		err := ListenAddresses(tt.addrs)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ListenAddresses(%q) = %v, want nil", tt.addrs, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ListenAddresses(%q) = %v, want an error with %q", tt.addrs, err, tt.wantErr)
		}
	}
}

func TestLocalStore(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "records")
	tests := []struct {
		dir     string
		wantSay string
		wantErr string
	}{
		{dir, "store: local store " + dir, ""},
		{missing, "does not exist yet", ""},
		{file, "", "--store.dir " + file + " is not a directory"},
	}
	for _, tt := range tests {
		var s said
		err := LocalStore(tt.dir, s.say)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("LocalStore(%s) = %v, want %q", tt.dir, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(s) != 1 || !strings.Contains(s[0], tt.wantSay) {
			t.Errorf("LocalStore(%s) = %v, said %q; want nil, saying %q", tt.dir, err, s, tt.wantSay)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("LocalStore created %s", missing)
	}
}

func TestVaultCredentials(t *testing.T) {
	dir := t.TempDir()
	const secret = "s3cr3t-secret-id-value"
	file := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(secret+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private, open := file("private", 0o600), file("open", 0o644)
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		cfg     vaultkv.Config
		env     string // VAULT_TOKEN
		wantErr string
	}{
		{"token in the environment", vaultkv.Config{}, "t", ""},
		{"no credentials", vaultkv.Config{}, "", "no Vault credentials"},
		{"private token file", vaultkv.Config{TokenFile: private}, "", ""},
		{"open token file", vaultkv.Config{TokenFile: open}, "", "--vault.token-file"},
		{"open token file allowed", vaultkv.Config{TokenFile: open, AllowInsecureFilePerms: true}, "", ""},
		{"open role id, private secret id", vaultkv.Config{RoleIDFile: open, SecretIDFile: private}, "", ""},
		{"open secret id", vaultkv.Config{RoleIDFile: open, SecretIDFile: open}, "", "--vault.secret-id-file"},
		{"missing secret id", vaultkv.Config{RoleIDFile: private, SecretIDFile: missing}, "", "--vault.secret-id-file"},
		{"every problem at once", vaultkv.Config{TokenFile: open, SecretIDFile: missing}, "", "--vault.token-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("VAULT_TOKEN", tt.env)
			err := VaultCredentials(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error with %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the secret is in the error: %v", err)
			}
		})
	}
}
