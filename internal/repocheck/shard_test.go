package repocheck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/vaultkv"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestRecordFitsRaft: a repository of 100,000 hosts, recorded in Vault on
// Raft storage (the HA setup). Written as one record it is refused (the
// reproduction: "value being too large", Raft's 1 MiB entry limit); saved
// with Save its hosts go into shards, and Load reads back every host. A
// fleet that shrinks leaves its shards empty.
func TestRecordFitsRaft(t *testing.T) {
	c := vaulttest.StartCluster(t)
	// Written with the shipped repo-checker policy, read with the
	// exporter's: the shards are within what each may do.
	c.Nodes[0].PutShippedPolicies(t, "backupwatch-repo-checker", "backupwatch-exporter")
	login := func(policy string) *vaultkv.Store {
		roleID, secretID := c.Nodes[0].AppRole(t, policy, []string{policy}, time.Hour, 0)
		dir := t.TempDir()
		r, s := filepath.Join(dir, "role-id"), filepath.Join(dir, "secret-id")
		os.WriteFile(r, []byte(roleID+"\n"), 0o600)
		os.WriteFile(s, []byte(secretID+"\n"), 0o600)
		st, err := vaultkv.New(vaultkv.Config{Address: c.Addresses(), RoleIDFile: r, SecretIDFile: s, Mount: "kv",
			Prefix: "golemtrust/backup-checks/repository", Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st, exporter := login("backupwatch-repo-checker"), login("backupwatch-exporter")
	var err error
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)
	res := Result{At: at, Hosts: map[string]HostView{}}
	const hosts = 100000
	for i := range hosts {
		// Long names: the record's size grows with them.
		h := fmt.Sprintf("host-%06d.backup-clients.datacentre-one.example.internal", i)
		res.Hosts[h] = HostView{Snapshots: 42, NewestTime: at.Add(-time.Hour), OldestTime: at.AddDate(-1, 0, 0),
			NewestID: strings.Repeat(fmt.Sprintf("%x", i%16), 64)}
		res.Total += 42
	}
	// The reproduction, at the 10,000 hosts: written whole, as
	// repo-check did, the record is refused. Written with the API client
	// on the active node: through vaultkv the refusal (a 500, retried) ends
	// as "did not answer in time" on a busy machine.
	tenth := Result{At: at, Hosts: map[string]HostView{}}
	for h, v := range res.Hosts {
		if len(tenth.Hosts) < hosts/10 {
			tenth.Hosts[h] = v
		}
	}
	whole := Apply(nil, tenth, "test")
	cl := c.Leader(t).Client(t)
	cl.SetToken(c.RootToken)
	_, err = cl.Logical().Write("kv/data/golemtrust/backup-checks/repository/whole", map[string]any{"data": whole})
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("a record of %d hosts written whole: %v; the reproduction expects Raft to refuse it as too large", len(tenth.Hosts), err)
	}
	t.Logf("written whole: %v", err)

	start := time.Now()
	if err := Save(ctx, st, "fleet", func(cur map[string]any) map[string]any { return Apply(cur, res, "test") }); err != nil {
		t.Fatalf("save %d hosts: %v", hosts, err)
	}
	t.Logf("saved %d hosts in %v", hosts, time.Since(start))
	doc, err := Load(ctx, exporter, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	r := Parse("fleet", doc)
	if len(r.Hosts) != hosts || len(r.Problems) > 0 {
		t.Fatalf("read back %d hosts, problems %v; want %d, none", len(r.Hosts), r.Problems, hosts)
	}
	h := "host-012345.backup-clients.datacentre-one.example.internal"
	if got, want := r.Hosts[h], res.Hosts[h]; got.Snapshots != 42 || !got.NewestTime.Equal(want.NewestTime) || got.NewestID != want.NewestID || !got.OldestTime.Equal(want.OldestTime) {
		t.Errorf("%s read back as %+v, want %+v", h, got, want)
	}
	shards, _ := count(mustGet(t, st, "fleet")[FieldHostShards])
	if shards == nil || *shards < 2 {
		t.Fatalf("host_shards %v, want several", shards)
	}
	t.Logf("%d hosts in %d shards", hosts, *shards)

	// The fleet shrinks to 3 hosts: inline again, the shards emptied.
	small := Result{At: at, Hosts: map[string]HostView{"db": {Snapshots: 1, NewestTime: at}, "web": {}, "mail": {}}}
	if err := Save(ctx, st, "fleet", func(map[string]any) map[string]any { return Apply(nil, small, "test") }); err != nil {
		t.Fatal(err)
	}
	doc, err = Load(ctx, st, "fleet")
	if err != nil {
		t.Fatal(err)
	}
	if r := Parse("fleet", doc); len(r.Hosts) != 3 || len(r.Problems) > 0 {
		t.Errorf("after shrinking: %d hosts, problems %v; want 3, none", len(r.Hosts), r.Problems)
	}
	for i := range int(*shards) {
		d, err := st.Get(ctx, ShardKey("fleet", i))
		if h, _ := d[FieldHosts].(map[string]any); err != nil || len(h) > 0 {
			t.Errorf("shard %d after shrinking: %d hosts (%v), want none", i, len(h), err)
		}
	}
}

func mustGet(t *testing.T, st Store, key string) map[string]any {
	t.Helper()
	d, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
