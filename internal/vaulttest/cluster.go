package vaulttest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// clusterTimeout bounds waiting for a cluster to form or elect a leader.
const clusterTimeout = 60 * time.Second

// Cluster is a Vault HA cluster with integrated Raft storage: three
// vaultdev processes on loopback, one active node and two standbys that
// forward requests to it (Vault's own request forwarding over the cluster
// port). Every node is a voter, so the cluster survives one node's death.
type Cluster struct {
	Nodes     []*Server
	RootToken string
	UnsealKey string // hex
}

// StartCluster starts a three-node cluster: the first node initializes the
// storage, the others join it through the API (as `vault operator raft
// join` does) and unseal with the same key. It waits until every node is a
// voter, then mounts KV v2 at kv/, KV v1 at kv1/ and AppRole at approle/,
// as Start does. The cluster is stopped when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t)
	shared := t.TempDir()
	initFile := filepath.Join(shared, "init.json")
	c := &Cluster{}
	for i := range 3 {
		s := &Server{bin: bin, DataDir: t.TempDir()}
		// A node's cluster address is in the Raft configuration: it keeps
		// its port across restarts.
		s.extra = []string{"-init-file", initFile, "-raft-node-id", fmt.Sprintf("node%d", i+1), "-cluster-listen", freeAddr(t)}
		if i > 0 {
			s.extra = append(s.extra, "-raft-join", c.Nodes[0].Addr)
		}
		c.Nodes = append(c.Nodes, s)
		t.Cleanup(func() {
			s.Stop(t)
			if t.Failed() {
				t.Logf("vaultdev node%d log:\n%s", i+1, s.Logs())
			}
		})
		s.launch(t, "127.0.0.1:0")
		if i == 0 {
			b, err := os.ReadFile(initFile)
			if err != nil {
				t.Fatalf("vaultdev: %v", err)
			}
			var keys struct {
				UnsealKey string `json:"unseal_key"`
				RootToken string `json:"root_token"`
			}
			if err := json.Unmarshal(b, &keys); err != nil {
				t.Fatalf("vaultdev: init.json: %v", err)
			}
			c.UnsealKey, c.RootToken = keys.UnsealKey, keys.RootToken
			// Autopilot promotes a joined node to voter once it has been
			// healthy this long (10 s by default).
			if _, err := c.client(t, s).Logical().Write("sys/storage/raft/autopilot/configuration",
				map[string]any{"server_stabilization_time": "1s"}); err != nil {
				t.Fatalf("vault autopilot configuration: %v", err)
			}
		}
		s.RootToken, s.UnsealKey = c.RootToken, c.UnsealKey
	}
	c.waitVoters(t, 3)

	sys := c.Nodes[0].Client(t).Sys()
	for path, version := range map[string]string{"kv": "2", "kv1": "1"} {
		in := &api.MountInput{Type: "kv", Options: map[string]string{"version": version}}
		if err := sys.Mount(path, in); err != nil {
			t.Fatalf("vaultdev: mounting KV v%s at %s/: %v", version, path, err)
		}
	}
	if err := sys.EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatalf("vaultdev: enabling approle: %v", err)
	}
	return c
}

func (c *Cluster) client(t testing.TB, s *Server) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	cl, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("vault client: %v", err)
	}
	cl.SetToken(c.RootToken)
	return cl
}

// waitVoters waits until the Raft configuration has n voters.
func (c *Cluster) waitVoters(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(clusterTimeout)
	var last string
	for time.Now().Before(deadline) {
		for _, s := range c.Running() {
			sec, err := c.client(t, s).Logical().Read("sys/storage/raft/configuration")
			if err != nil || sec == nil {
				last = fmt.Sprint(err)
				continue
			}
			b, _ := json.Marshal(sec.Data["config"])
			var cfg struct {
				Servers []struct {
					NodeID string `json:"node_id"`
					Voter  bool   `json:"voter"`
				} `json:"servers"`
			}
			json.Unmarshal(b, &cfg)
			voters := 0
			for _, sv := range cfg.Servers {
				if sv.Voter {
					voters++
				}
			}
			if voters >= n {
				return
			}
			last = string(b)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("vault cluster: fewer than %d voters after %v: %s", n, clusterTimeout, last)
}

// Addresses is the nodes' API addresses, comma-separated, as
// --vault.address takes them.
func (c *Cluster) Addresses() string {
	var a []string
	for _, s := range c.Nodes {
		a = append(a, s.Addr)
	}
	return strings.Join(a, ",")
}

// Running is the nodes whose process runs.
func (c *Cluster) Running() []*Server {
	var out []*Server
	for _, s := range c.Nodes {
		if s.cmd != nil {
			out = append(out, s)
		}
	}
	return out
}

// Leader waits until a running node is the active node and returns it.
func (c *Cluster) Leader(t testing.TB) *Server {
	t.Helper()
	deadline := time.Now().Add(clusterTimeout)
	var last string
	for time.Now().Before(deadline) {
		for _, s := range c.Running() {
			l, err := c.client(t, s).Sys().Leader()
			if err != nil {
				last = err.Error()
				continue
			}
			if l.IsSelf {
				return s
			}
			last = "leader " + l.LeaderAddress
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("vault cluster: no active node after %v: %s", clusterTimeout, last)
	return nil
}

// KillLeader kills the active node's process (SIGKILL: no step-down, no
// goodbye, as when its machine dies) and returns it.
func (c *Cluster) KillLeader(t testing.TB) *Server {
	t.Helper()
	s := c.Leader(t)
	s.Kill(t)
	return s
}

// Kill kills the server's process with SIGKILL and waits for it to exit.
// Restart brings it back (a Raft node rejoins its cluster).
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatalf("vaultdev: kill: not running")
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// freeAddr is a loopback address for a node's cluster port
// (parts.FreeAddr: below the ephemeral range, each once per run).
func freeAddr(t testing.TB) string {
	t.Helper()
	return parts.FreeAddr(t)
}
