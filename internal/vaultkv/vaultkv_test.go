package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// secretFile writes a credential file with the given mode.
func secretFile(t *testing.T, value string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(value+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func newStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Mount == "" {
		cfg.Mount = "kv"
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "golemtrust/backup-status"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func record(ctx context.Context, s *Store, res status.Result) error {
	return s.Update(ctx, res.Host, func(old map[string]any) (map[string]any, bool, error) {
		doc, changed := status.Apply(old, res)
		return doc, changed, nil
	})
}

func TestKVv1AndV2(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		mount       string
		force       int
		wantVersion int
	}{
		{"kv", 0, 2},
		{"kv1", 0, 1},
		{"kv", 2, 2},
		{"kv1", 1, 1},
	} {
		t.Run(fmt.Sprintf("%s forced %d", tc.mount, tc.force), func(t *testing.T) {
			s := newStore(t, Config{Address: v.Addr, Token: v.RootToken, Mount: tc.mount, KVVersion: tc.force})
			if err := s.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			if s.version != tc.wantVersion {
				t.Errorf("version = %d, want %d", s.version, tc.wantVersion)
			}
			at := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
			for _, res := range []status.Result{
				{Host: "db", Outcome: status.Success, At: at.Add(-24 * time.Hour)},
				{Host: "db", Outcome: status.Failed, At: at},
				{Host: "auth", Outcome: status.Success, At: at},
			} {
				if err := record(ctx, s, res); err != nil {
					t.Fatal(err)
				}
			}
			doc, err := s.Get(ctx, "db")
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"status": "failed", "last_success": "2026-11-24T03:00:00+00:00", "last_failure": "2026-11-25T03:00:00+00:00"}
			for k, w := range want {
				if doc[k] != w {
					t.Errorf("%s = %v, want %s", k, doc[k], w)
				}
			}
			// On KV v1, jobs/ holds the records' histories (status.SideKey:
			// issue 21); on KV v2 they are the records' versions.
			jobs := ""
			if tc.wantVersion == 1 {
				jobs = ",jobs/"
			}
			keys, err := s.List(ctx)
			if err != nil || strings.Join(keys, ",") != "auth,db"+jobs {
				t.Errorf("List = %v, %v; want auth,db%s", keys, err, jobs)
			}
			if err := s.Delete(ctx, "db"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "db"); !errors.Is(err, status.ErrNotFound) {
				t.Errorf("Get after Delete = %v, want ErrNotFound", err)
			}
			if keys, _ := s.List(ctx); strings.Join(keys, ",") != "auth"+jobs {
				t.Errorf("List after Delete = %v, want auth%s (forget removes metadata too)", keys, jobs)
			}
			s.Delete(ctx, "auth")
		})
	}
}

func TestReadsWhatTheRunbookWrites(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	c := v.Client(t)
	// What `vault kv put`, other tools and hands may leave behind.
	for host, data := range map[string]map[string]any{
		"db":      {"status": "success", "last_success": "2026-11-24T03:00:00+00:00", "last_failure": "1970-01-01T00:00:00+00:00"},
		"auth":    {"status": "failed", "last_success": "2026-11-24T03:00:00.5Z", "exit_code": 1},
		"metrics": {"status": "wat", "last_success": "yesterday"},
		"vault-1": {},
	} {
		if _, err := c.KVv2("kv").Put(ctx, "golemtrust/backup-status/"+host, data); err != nil {
			t.Fatal(err)
		}
	}
	c.KVv2("kv").Put(ctx, "golemtrust/backup-status/sub/nested", map[string]any{"x": "y"})
	c.KVv2("kv").Put(ctx, "golemtrust/backup-status/restore-test", map[string]any{"last_test": "2026-10-01T10:00:00+00:00", "result": "passed", "host_tested": "db.golemtrust.am", "time_to_restore_minutes": "47"})

	s := newStore(t, Config{Address: v.Addr, Token: v.RootToken})
	snap := fleet.Load(ctx, s, fleet.Options{Expected: []string{"graylog-1"}}, nil)
	if snap.Err != nil {
		t.Fatal(snap.Err)
	}
	got := map[string]status.Record{}
	for _, r := range snap.Hosts.Slice() {
		got[r.Host] = r
	}
	for host, want := range map[string]struct {
		status   string
		success  bool
		problems bool
	}{
		"db":        {status.Success, true, true}, // last_failure at the epoch is out of range
		"auth":      {status.Failed, true, false},
		"metrics":   {status.Unknown, false, true},
		"vault-1":   {status.Unknown, false, true},
		"graylog-1": {status.Unknown, false, true},
	} {
		r, ok := got[host]
		if !ok {
			t.Errorf("host %s missing from the snapshot", host)
			continue
		}
		if r.Status != want.status || r.LastSuccess.IsZero() == want.success || (len(r.Problems) > 0) != want.problems {
			t.Errorf("%s: status %s, last success %v, problems %q; want %s, success %v, problems %v", host, r.Status, r.LastSuccess, r.Problems, want.status, want.success, want.problems)
		}
	}
	if snap.Hosts.Len() != 5 {
		t.Errorf("hosts = %d, want 5 (restore-test and the folder are not hosts)", snap.Hosts.Len())
	}
	if len(snap.Problems) != 1 || !strings.Contains(snap.Problems[0], "sub/") {
		t.Errorf("store problems = %q, want the sub/ folder", snap.Problems)
	}
	if snap.RestoreTest == nil || !snap.RestoreTest.Passed() {
		t.Errorf("restore test = %+v, want passed", snap.RestoreTest)
	}
}

func TestAppRolePoliciesAndErrors(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	auths, err := v.Client(t).Sys().ListAuth()
	if err != nil {
		t.Fatal(err)
	}
	accessor := auths["approle/"].Accessor
	for _, name := range []string{"backupwatch-writer", "backupwatch-exporter", "backupwatch-restore-tester"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "vault", name+".hcl"))
		if err != nil {
			t.Fatal(err)
		}
		v.PutPolicy(t, name, strings.ReplaceAll(string(b), "AUTH_APPROLE_ACCESSOR", accessor))
	}
	dbRole, dbSecret := v.AppRole(t, "db", []string{"backupwatch-writer"}, time.Hour, 0)
	authRole, authSecret := v.AppRole(t, "auth", []string{"backupwatch-writer"}, time.Hour, 0)
	expRole, expSecret := v.AppRole(t, "exporter", []string{"backupwatch-exporter"}, time.Hour, 0)
	rtRole, rtSecret := v.AppRole(t, "restore-tester", []string{"backupwatch-restore-tester"}, time.Hour, 0)

	login := func(roleID, secretID string) *Store {
		return newStore(t, Config{Address: v.Addr, RoleIDFile: secretFile(t, roleID, 0o600), SecretIDFile: secretFile(t, secretID, 0o600)})
	}
	now := time.Now()
	db, auth, exp, rt := login(dbRole, dbSecret), login(authRole, authSecret), login(expRole, expSecret), login(rtRole, rtSecret)

	if err := record(ctx, db, status.Result{Host: "db", Outcome: status.Success, At: now}); err != nil {
		t.Errorf("db writing its own record: %v", err)
	}
	if err := record(ctx, auth, status.Result{Host: "auth", Outcome: status.Success, At: now}); err != nil {
		t.Errorf("auth writing its own record: %v", err)
	}
	err = record(ctx, db, status.Result{Host: "auth", Outcome: status.Failed, At: now})
	if err == nil || err.Error() != "write kv/golemtrust/backup-status/auth: permission denied" {
		t.Errorf("db writing auth's record: %v, want permission denied", err)
	}
	if err := rt.Update(ctx, status.RestoreTestKey, func(old map[string]any) (map[string]any, bool, error) {
		doc, ch := status.ApplyRestoreTest(old, status.RestoreTest{LastTest: now, Result: status.Passed, HostTested: "db"})
		return doc, ch, nil
	}); err != nil {
		t.Errorf("restore tester writing the restore test: %v", err)
	}
	if err := record(ctx, rt, status.Result{Host: "db", Outcome: status.Failed, At: now}); err == nil {
		t.Errorf("restore tester could write a host record")
	}

	snap := fleet.Load(ctx, exp, fleet.Options{}, nil)
	if snap.Err != nil || snap.Hosts.Len() != 2 || snap.RestoreTest == nil {
		t.Errorf("exporter reading everything: err %v, %d hosts, restore test %v", snap.Err, snap.Hosts.Len(), snap.RestoreTest)
	}
	if err := record(ctx, exp, status.Result{Host: "db", Outcome: status.Failed, At: now}); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("exporter writing: %v, want permission denied", err)
	}

	// Credentials that fail, and never show up in an error.
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad secret id", Config{RoleIDFile: secretFile(t, dbRole, 0o600), SecretIDFile: secretFile(t, "not-the-secret-id", 0o600)}, "log in with approle (role id file"},
		{"group-readable secret id", Config{RoleIDFile: secretFile(t, dbRole, 0o600), SecretIDFile: secretFile(t, dbSecret, 0o640)}, "readable by group or others"},
		{"missing secret id file", Config{RoleIDFile: secretFile(t, dbRole, 0o600), SecretIDFile: "/nonexistent/secret-id"}, "no such file"},
		{"bad token", Config{Token: "hvs.not-a-real-token"}, "log in with token: token rejected"},
		{"bad token file", Config{TokenFile: secretFile(t, "hvs.bogus-token-in-file", 0o600)}, "token rejected"},
		{"no token", Config{}, "no token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VAULT_TOKEN", "")
			cfg := tc.cfg
			cfg.Address = v.Addr
			s := newStore(t, cfg)
			err := record(ctx, s, status.Result{Host: "db", Outcome: status.Success, At: now})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			for _, secret := range []string{dbSecret, "not-the-secret-id", "hvs.not-a-real-token", "hvs.bogus-token-in-file", v.RootToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a secret", err)
				}
			}
		})
	}
	t.Run("group-readable allowed explicitly", func(t *testing.T) {
		s := newStore(t, Config{Address: v.Addr, RoleIDFile: secretFile(t, dbRole, 0o644), SecretIDFile: secretFile(t, dbSecret, 0o644), AllowInsecureFilePerms: true})
		if err := record(ctx, s, status.Result{Host: "db", Outcome: status.Success, At: now}); err != nil {
			t.Error(err)
		}
	})
	t.Run("wrapped secret id", func(t *testing.T) {
		c := v.Client(t)
		c.SetWrappingLookupFunc(func(string, string) string { return "5m" })
		w, err := c.Logical().Write("auth/approle/role/db/secret-id", nil)
		if err != nil || w == nil || w.WrapInfo == nil {
			t.Fatalf("wrapping a secret id: %v", err)
		}
		s := newStore(t, Config{Address: v.Addr, RoleIDFile: secretFile(t, dbRole, 0o600), SecretIDFile: secretFile(t, w.WrapInfo.Token, 0o600), SecretIDWrapped: true})
		if err := record(ctx, s, status.Result{Host: "db", Outcome: status.Success, At: now}); err != nil {
			t.Fatal(err)
		}
		// Logging in again later must not need the (now spent) wrapping token.
		s.mu.Lock()
		err = s.login(ctx)
		s.mu.Unlock()
		if err != nil {
			t.Errorf("second login with a wrapped secret id: %v", err)
		}
	})
}

func TestTokenRenewalAndRelogin(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	v.PutPolicy(t, "rw", `path "kv/*" { capabilities = ["create","read","update","list"] }
path "sys/internal/ui/mounts/*" { capabilities = ["read"] }`)
	// Tokens live 2 s and can be renewed up to 5 s: a run of 8 s needs
	// renewals and at least one fresh login.
	roleID, secretID := v.AppRole(t, "db", []string{"rw"}, 2*time.Second, 5*time.Second)
	s := newStore(t, Config{Address: v.Addr, RoleIDFile: secretFile(t, roleID, 0o600), SecretIDFile: secretFile(t, secretID, 0o600)})
	tokens := map[string]bool{}
	deadline := time.Now().Add(8 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		if err := record(ctx, s, status.Result{Host: "db", Outcome: status.Success, At: time.Now()}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		tokens[s.client.Token()] = true
		time.Sleep(700 * time.Millisecond)
	}
	if len(tokens) < 2 {
		t.Errorf("used %d token(s) over 8 s with a 5 s max TTL, want a fresh login", len(tokens))
	}

	// A token revoked behind its back is replaced on the next request.
	if err := v.Client(t).Auth().Token().RevokeTree(s.client.Token()); err != nil {
		t.Fatal(err)
	}
	s.lastRelogin = time.Time{}
	if err := record(ctx, s, status.Result{Host: "db", Outcome: status.Success, At: time.Now()}); err != nil {
		t.Errorf("after revocation: %v", err)
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	s := newStore(t, Config{Address: v.Addr, Token: v.RootToken, MaxConns: 16})
	const writers, each = 12, 5
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := s.Update(ctx, "db", func(old map[string]any) (map[string]any, bool, error) {
					doc := map[string]any{}
					for k, v := range old {
						doc[k] = v
					}
					doc[fmt.Sprintf("writer_%d", w)] = fmt.Sprint(i)
					return doc, true, nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	doc, err := s.Get(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < writers; w++ {
		if got := doc[fmt.Sprintf("writer_%d", w)]; got != fmt.Sprint(each-1) {
			t.Errorf("writer_%d = %v, want %d: a concurrent write was lost", w, got, each-1)
		}
	}
}

func TestVaultFaults(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	s := newStore(t, Config{Address: v.Addr, Token: v.RootToken, Timeout: 3 * time.Second})
	res := status.Result{Host: "db", Outcome: status.Success, At: time.Now()}
	if err := record(ctx, s, res); err != nil {
		t.Fatal(err)
	}

	v.Seal(t)
	err := record(ctx, s, res)
	if err == nil || !strings.Contains(err.Error(), "write kv/golemtrust/backup-status/db: vault at "+v.Addr+" is sealed") || !IsUnavailable(err) {
		t.Errorf("sealed: %v", err)
	}
	v.Unseal(t)

	v.Stop(t)
	err = record(ctx, s, res)
	if err == nil || !strings.Contains(err.Error(), "vault unreachable at "+v.Addr) || !IsUnavailable(err) {
		t.Errorf("stopped: %v", err)
	}
	v.Restart(t)
	if err := record(ctx, s, res); err != nil {
		t.Errorf("after restart: %v", err)
	}

	// A permission problem is not an outage.
	v.PutPolicy(t, "none", `path "kv/data/*" { capabilities = ["read"] }`)
	tok, err := v.Client(t).Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"none"}})
	if err != nil {
		t.Fatal(err)
	}
	denied := newStore(t, Config{Address: v.Addr, Token: tok.Auth.ClientToken})
	_, err = denied.List(ctx)
	if err == nil || err.Error() != "list kv/golemtrust/backup-status: permission denied" || IsUnavailable(err) {
		t.Errorf("denied list: %v", err)
	}

	// Mount mistakes are named.
	wrong := newStore(t, Config{Address: v.Addr, Token: v.RootToken, Mount: "secret"})
	if err := wrong.Ping(ctx); err == nil || !strings.Contains(err.Error(), "detect KV version of secret: permission denied (no access under this mount, or no such mount") {
		t.Errorf("missing mount: %v", err)
	}
}
