package vaulttest_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

func TestServer(t *testing.T) {
	s := vaulttest.Start(t)
	c := s.Client(t)
	ctx := context.Background()

	if _, err := c.KVv2("kv").Put(ctx, "backups/db", map[string]any{"status": "ok"}); err != nil {
		t.Fatalf("kv v2 put: %v", err)
	}
	if err := c.KVv1("kv1").Put(ctx, "backups/db", map[string]any{"status": "ok"}); err != nil {
		t.Fatalf("kv v1 put: %v", err)
	}
	checkData := func(c *api.Client) {
		t.Helper()
		v2, err := c.KVv2("kv").Get(ctx, "backups/db")
		if err != nil || v2.Data["status"] != "ok" || v2.VersionMetadata.Version != 1 {
			t.Fatalf("kv v2 get: %+v, %v", v2, err)
		}
		v1, err := c.KVv1("kv1").Get(ctx, "backups/db")
		if err != nil || v1.Data["status"] != "ok" {
			t.Fatalf("kv v1 get: %+v, %v", v1, err)
		}
	}
	checkData(c)

	// The vault CLI detects the KV version of a path this way.
	for mount, want := range map[string]string{"kv": "2", "kv1": "1"} {
		m, err := c.Logical().Read("sys/internal/ui/mounts/" + mount)
		if err != nil || m == nil {
			t.Fatalf("ui mounts %s: %v", mount, err)
		}
		opts, _ := m.Data["options"].(map[string]any)
		if m.Data["type"] != "kv" || opts["version"] != want {
			t.Errorf("ui mounts %s: type %v, options %v; want kv version %s", mount, m.Data["type"], opts, want)
		}
	}

	s.PutPolicy(t, "reader", `path "kv/data/backups/*" { capabilities = ["read"] }`)
	roleID, secretID := s.AppRole(t, "backupwatch", []string{"reader"}, time.Minute, 5*time.Minute)
	ac, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	auth, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: secretID})
	if err != nil {
		t.Fatal(err)
	}
	login, err := ac.Auth().Login(ctx, auth)
	if err != nil {
		t.Fatalf("approle login: %v", err)
	}
	if ttl, _ := login.TokenTTL(); ttl != time.Minute || !login.Auth.Renewable || !slices.Contains(login.Auth.Policies, "reader") {
		t.Errorf("approle token: ttl %v, renewable %v, policies %v", ttl, login.Auth.Renewable, login.Auth.Policies)
	}
	renewed, err := ac.Auth().Token().RenewSelf(0)
	if err != nil {
		t.Fatalf("token renew: %v", err)
	}
	if ttl, _ := renewed.TokenTTL(); ttl != time.Minute {
		t.Errorf("renewed token ttl %v, want 1m", ttl)
	}
	if _, err := ac.KVv2("kv").Get(ctx, "backups/db"); err != nil {
		t.Errorf("approle read: %v", err)
	}
	_, err = ac.KVv2("kv").Put(ctx, "backups/db", map[string]any{"status": "bad"})
	if re := (*api.ResponseError)(nil); !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Errorf("approle write: got %v, want 403", err)
	}

	s.Seal(t)
	if _, err := c.KVv2("kv").Get(ctx, "backups/db"); err == nil {
		t.Errorf("read while sealed succeeded")
	}
	s.Unseal(t)
	checkData(c)

	addr := s.Addr
	s.Restart(t)
	if s.Addr != addr {
		t.Errorf("restart moved the server from %s to %s", addr, s.Addr)
	}
	checkData(s.Client(t))
	if _, err := ac.Auth().Token().LookupSelf(); err != nil {
		t.Errorf("approle token after restart: %v", err)
	}
}
