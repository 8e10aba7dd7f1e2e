package vaultkv

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Address: "https://vault.example.com:8200", Mount: "kv", Prefix: "golemtrust/backup-status", Timeout: 10 * time.Second}
	tests := []struct {
		name string
		edit func(c *Config)
		want string // "" for valid
	}{
		{"good", func(c *Config) {}, ""},
		{"no address: VAULT_ADDR applies", func(c *Config) { c.Address = "" }, ""},
		{"http with a path", func(c *Config) { c.Address = "http://127.0.0.1:8200/vault" }, ""},
		{"unix socket", func(c *Config) { c.Address = "unix:///run/vault-agent.sock" }, ""},
		{"slashes around mount and prefix", func(c *Config) { c.Mount, c.Prefix = "/kv/", "/golemtrust/backup-status/" }, ""},
		{"nested mount, approle and namespace", func(c *Config) { c.Mount, c.AppRoleMount, c.Namespace = "team/kv", "auth-approle", "ns1/ns2" }, ""},
		{"approle", func(c *Config) { c.RoleIDFile, c.SecretIDFile, c.SecretIDWrapped = "r", "s", true }, ""},
		{"not a URL", func(c *Config) { c.Address = "not-a-url" }, "not a URL"},
		{"host:port", func(c *Config) { c.Address = "vault:8200" }, "not a URL"},
		{"ftp", func(c *Config) { c.Address = "ftp://vault:21" }, `scheme "ftp"`},
		{"no host", func(c *Config) { c.Address = "https://:8200" }, "no host"},
		{"port", func(c *Config) { c.Address = "https://vault:0" }, "port out of range"},
		{"query", func(c *Config) { c.Address = "https://vault:8200/?x=1" }, "query"},
		{"space", func(c *Config) { c.Address = "https://vault :8200" }, "spaces"},
		{"unix without a path", func(c *Config) { c.Address = "unix://" }, "socket path"},
		{"password not shown", func(c *Config) { c.Address = "ftp://ops:hunter2@vault:21" }, "ftp://redacted@vault:21"},
		{"password not shown, unparsable", func(c *Config) { c.Address = "http://ops:hunter2@[::1" }, `"http://redacted@[::1": not a URL`},
		{"kv version", func(c *Config) { c.KVVersion = 3 }, "--vault.kv-version must be 1, 2 or 0"},
		{"zero timeout", func(c *Config) { c.Timeout = 0 }, "--vault.timeout must be positive, not 0s"},
		{"negative timeout", func(c *Config) { c.Timeout = -5 * time.Second }, "not -5s"},
		{"empty mount", func(c *Config) { c.Mount = "/" }, "--vault.mount"},
		{"mount ..", func(c *Config) { c.Mount = "kv/../sys" }, `".." segment`},
		{"prefix ..", func(c *Config) { c.Prefix = "../.." }, `--vault.prefix "../..": has a ".." segment`},
		{"prefix .", func(c *Config) { c.Prefix = "a/./b" }, `"." segment`},
		{"prefix //", func(c *Config) { c.Prefix = "a//b" }, "empty segment"},
		{"prefix glob", func(c *Config) { c.Prefix = "golemtrust/*" }, `'*'`},
		{"prefix newline", func(c *Config) { c.Prefix = "a\nb" }, "not allowed"},
		{"namespace ..", func(c *Config) { c.Namespace = ".." }, "--vault.namespace"},
		{"role id alone", func(c *Config) { c.RoleIDFile = "r" }, "--vault.role-id-file needs --vault.secret-id-file"},
		{"secret id alone", func(c *Config) { c.SecretIDFile = "s" }, "--vault.secret-id-file needs --vault.role-id-file"},
		{"wrapped alone", func(c *Config) { c.SecretIDWrapped = true }, "--vault.secret-id-wrapped needs"},
		{"token file and approle", func(c *Config) { c.TokenFile, c.RoleIDFile, c.SecretIDFile = "t", "r", "s" }, "log in one way"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			case err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ops")):
				t.Errorf("Validate() = %v: shows the password", err)
			}
		})
	}
}

// TestNewValidates: a library caller gets the same checks, after the
// defaults New fills in (a zero Timeout is 10s there).
func TestNewValidates(t *testing.T) {
	if _, err := New(Config{Address: "http://127.0.0.1:1", Mount: "kv", Prefix: "p"}); err != nil {
		t.Errorf("New with a zero timeout: %v", err)
	}
	if _, err := New(Config{Address: "http://127.0.0.1:1", Mount: "kv", Prefix: "../x"}); err == nil || !strings.Contains(err.Error(), "..") {
		t.Errorf("New with prefix ../x: %v", err)
	}
	t.Setenv("VAULT_ADDR", "ftp://vault:21")
	if _, err := New(Config{Mount: "kv", Prefix: "p"}); err == nil || !strings.Contains(err.Error(), "VAULT_ADDR") {
		t.Errorf("New with VAULT_ADDR=ftp://...: %v", err)
	}
}
