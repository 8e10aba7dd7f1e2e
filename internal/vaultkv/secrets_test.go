package vaultkv

import (
	"context"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// watched collects what WatchSecrets reports.
type watched struct {
	mu   sync.Mutex
	seen []string
}

func watch(s *Store) *watched {
	w := &watched{}
	s.WatchSecrets(func(v string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.seen = append(w.seen, v)
	})
	return w
}

func (w *watched) has(v string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.seen, v)
}

const rwPolicy = `path "kv/*" { capabilities = ["create","read","update","list"] }
path "sys/internal/ui/mounts/*" { capabilities = ["read"] }`

// childToken is a fresh token with the rw policy.
func childToken(t *testing.T, v *vaulttest.Server) string {
	t.Helper()
	sec, err := v.Client(t).Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"rw"}})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	return sec.Auth.ClientToken
}

// TestStoreSecrets: every credential value the store reads or is handed is
// reported, before any request (a program started before the first login
// cannot print it unscrubbed) and as it changes (a re-login, a token file
// Vault Agent rewrote); the role id, half of a login, too.
func TestStoreSecrets(t *testing.T) {
	v := vaulttest.Start(t)
	v.PutPolicy(t, "rw", rwPolicy)
	roleID, secretID := v.AppRole(t, "db", []string{"rw"}, time.Hour, 0)
	ctx := context.Background()
	root := v.Client(t)
	write := func(t *testing.T, s *Store) {
		t.Helper()
		if err := record(ctx, s, status.Result{Host: "db", Outcome: status.Success, At: time.Now()}); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	revoke := func(t *testing.T, token string) {
		t.Helper()
		if err := root.Auth().Token().RevokeTree(token); err != nil {
			t.Fatalf("revoke: %v", err)
		}
	}

	t.Run("token file", func(t *testing.T) {
		first := childToken(t, v)
		file := secretFile(t, first, 0o600)
		s := newStore(t, Config{Address: v.Addr, TokenFile: file})
		w := watch(s)
		if !w.has(first) || !slices.Contains(s.Secrets(), first) {
			t.Fatalf("the token file's content is not reported before the first request")
		}
		write(t, s)
		// Vault Agent rewrites its sink; the old token is revoked.
		second := childToken(t, v)
		if err := os.WriteFile(file, []byte(second+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		revoke(t, first)
		write(t, s)
		if !w.has(second) {
			t.Errorf("the rewritten token file's token was not reported")
		}
		if got := s.Secrets(); !slices.Contains(got, first) || !slices.Contains(got, second) {
			t.Errorf("Secrets() lacks the old or the new token (%d values)", len(got))
		}
	})

	t.Run("approle", func(t *testing.T) {
		s := newStore(t, Config{Address: v.Addr, RoleIDFile: secretFile(t, roleID, 0o600), SecretIDFile: secretFile(t, secretID, 0o600)})
		w := watch(s)
		if !w.has(secretID) {
			t.Fatalf("the secret id is not reported before the first login")
		}
		// Issue 16: the role id is semi-confidential, scrubbed like the
		// secret id (it was not reported before).
		if !w.has(roleID) {
			t.Fatalf("the role id is not reported before the first login")
		}
		write(t, s)
		login := s.client.Token()
		if login == "" || !w.has(login) {
			t.Fatalf("the token AppRole login returned was not reported")
		}
		revoke(t, login)
		write(t, s) // denied, logs in again
		if again := s.client.Token(); again == login || !w.has(again) {
			t.Errorf("the token of the second login was not reported")
		}
	})

	t.Run("wrapped secret id", func(t *testing.T) {
		const custom = "custom-secret-id-0123456789abcdef"
		c := v.Client(t)
		c.SetWrappingLookupFunc(func(string, string) string { return "5m" })
		wr, err := c.Logical().Write("auth/approle/role/db/custom-secret-id", map[string]any{"secret_id": custom})
		if err != nil || wr == nil || wr.WrapInfo == nil {
			t.Fatalf("wrapping a secret id: %v", err)
		}
		s := newStore(t, Config{Address: v.Addr, RoleIDFile: secretFile(t, roleID, 0o600), SecretIDFile: secretFile(t, wr.WrapInfo.Token, 0o600), SecretIDWrapped: true})
		w := watch(s)
		if !w.has(wr.WrapInfo.Token) {
			t.Fatalf("the wrapping token is not reported before the first login")
		}
		write(t, s)
		if !w.has(custom) || !w.has(s.client.Token()) {
			t.Errorf("the unwrapped secret id or the login token was not reported")
		}
	})

	t.Run("given token", func(t *testing.T) {
		tok := childToken(t, v)
		s := newStore(t, Config{Address: v.Addr, Token: tok})
		if !watch(s).has(tok) {
			t.Errorf("a token given in the configuration is not reported")
		}
		env := childToken(t, v)
		t.Setenv("VAULT_TOKEN", env)
		s = newStore(t, Config{Address: v.Addr})
		if !watch(s).has(env) {
			t.Errorf("VAULT_TOKEN is not reported")
		}
	})
}

// TestAddressCredentialsRedacted: a password in the address (VAULT_ADDR=
// http://user:pw@host) is a secret: never in String() (which names spool
// folders and the status page), never in an error; the store still works.
func TestAddressCredentialsRedacted(t *testing.T) {
	const pw = "pw-in-the-address-42"
	v := vaulttest.Start(t)
	u, err := url.Parse(v.Addr)
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://backup:" + pw + "@" + u.Host
	ctx := context.Background()
	s := newStore(t, Config{Address: addr, Token: v.RootToken, KVVersion: 2})
	if got := s.String(); strings.Contains(got, pw) || strings.Contains(got, "backup@") || !strings.Contains(got, u.Host) {
		t.Errorf("String() = %q; want the host without the credentials", got)
	}
	if !slices.Contains(s.Secrets(), pw) {
		t.Errorf("the address's password is not among Secrets()")
	}
	if err := record(ctx, s, status.Result{Host: "db", Outcome: status.Success, At: time.Now()}); err != nil {
		t.Fatalf("write through an address with credentials: %v", err)
	}

	var errs []error
	denied := newStore(t, Config{Address: addr, Token: "hvs.not-a-real-token-1234", KVVersion: 2})
	errs = append(errs, denied.Ping(ctx), record(ctx, denied, status.Result{Host: "db", Outcome: status.Success, At: time.Now()}))
	_, err = New(Config{Address: "http://backup:" + pw + "@bad host:8200", Mount: "kv", Prefix: "p"})
	errs = append(errs, err)
	v.Stop(t)
	down := newStore(t, Config{Address: addr, Token: v.RootToken, KVVersion: 2, Timeout: 2 * time.Second})
	errs = append(errs, record(ctx, down, status.Result{Host: "db", Outcome: status.Success, At: time.Now()}))
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("case %d: error %q holds the address's password", i, err)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8200", "http://127.0.0.1:8200"},
		{"https://u:pw@vault.example:8200/x", "https://redacted@vault.example:8200/x"},
		{"https://token-only@vault.example", "https://redacted@vault.example"},
		{"https://u:p@ss@vault.example/v1", "https://redacted@vault.example/v1"},
		{`Put "http://u:***@127.0.0.1:8200/v1/kv": refused, and http://a:b@c`, `Put "http://redacted@127.0.0.1:8200/v1/kv": refused, and http://redacted@c`},
		{"mail root@example.org about http://host:1", "mail root@example.org about http://host:1"},
	}
	for _, tt := range tests {
		if got := redactURLs(tt.in); got != tt.want {
			t.Errorf("redactURLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
