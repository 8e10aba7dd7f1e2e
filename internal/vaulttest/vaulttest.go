// Package vaulttest runs a real Vault server for tests: the vaultdev binary
// built from tools/vaultdev (`make vaultdev`), with file storage in a
// temporary directory and the runbook's layout (KV v2 at kv/, KV v1 at kv1/,
// AppRole at approle/). Only tests import it.
package vaulttest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/parts"
)

const (
	module       = "github.com/golemtrust/backupwatch"
	readyPrefix  = "vaultdev ready addr="
	readyTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// Server is a running (or stopped) vaultdev server.
type Server struct {
	Addr      string // http://127.0.0.1:PORT
	RootToken string
	UnsealKey string // hex
	DataDir   string

	bin   string
	port  string
	extra []string // more vaultdev flags (a cluster node's, cluster.go)
	cmd   *exec.Cmd
	done  chan struct{} // closed once cmd has exited
	log   parts.LockedBuffer
}

// Binary returns the path of the vaultdev binary: $BACKUPWATCH_VAULTDEV if
// set, else bin/vaultdev in the repository root. It fails the test if the
// binary is missing.
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("BACKUPWATCH_VAULTDEV")
	if bin == "" {
		if root, ok := parts.RepoRoot(); ok {
			bin = filepath.Join(root, "bin", "vaultdev")
		}
	}
	if bin == "" {
		t.Fatalf("vaultdev not built: run `make vaultdev` (builds tools/vaultdev into bin/vaultdev); no go.mod of %s above the working directory", module)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("vaultdev not built: run `make vaultdev` (builds tools/vaultdev into bin/vaultdev): %v", err)
	}
	return bin
}

// Start starts a vaultdev server on a free loopback port with its data in a
// temporary directory, mounts KV v2 at kv/ and KV v1 at kv1/, enables
// AppRole at approle/. When the test ends it stops the server and, if the
// test failed, logs the server's output.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{bin: Binary(t), DataDir: t.TempDir()}
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("vaultdev log:\n%s", s.Logs())
		}
	})
	s.launch(t, "127.0.0.1:0")

	b, err := os.ReadFile(filepath.Join(s.DataDir, "init.json"))
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
	s.UnsealKey, s.RootToken = keys.UnsealKey, keys.RootToken

	sys := s.Client(t).Sys()
	for path, version := range map[string]string{"kv": "2", "kv1": "1"} {
		in := &api.MountInput{Type: "kv", Options: map[string]string{"version": version}}
		if err := sys.Mount(path, in); err != nil {
			t.Fatalf("vaultdev: mounting KV v%s at %s/: %v", version, path, err)
		}
	}
	if err := sys.EnableAuthWithOptions("approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatalf("vaultdev: enabling approle: %v", err)
	}
	return s
}

// launch runs the binary listening on addr and waits for its ready line.
func (s *Server) launch(t testing.TB, addr string) {
	t.Helper()
	cmd := exec.Command(s.bin, append([]string{"-listen", addr, "-data-dir", s.DataDir}, s.extra...)...)
	cmd.Stderr = &s.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("vaultdev: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("vaultdev: %v", err)
	}
	done := make(chan struct{})
	s.done = done

	ready := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(&s.log, line)
			if a, ok := strings.CutPrefix(line, readyPrefix); ok {
				ready <- a
			}
		}
		cmd.Wait()
	}()

	select {
	case a := <-ready:
		u, err := url.Parse(a)
		if err != nil {
			t.Fatalf("vaultdev: bad ready line %q: %v", a, err)
		}
		s.Addr, s.port, s.cmd = a, u.Port(), cmd
	case <-done:
		t.Fatalf("vaultdev exited before it was ready: %v", cmd.ProcessState)
	case <-time.After(readyTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("vaultdev not ready after %v", readyTimeout)
	}
}

// Stop sends SIGTERM and waits for the server to exit. It does nothing if
// the server is not running.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	cmd := s.cmd
	s.cmd = nil
	select {
	case <-s.done:
		t.Errorf("vaultdev had exited by itself: %v", cmd.ProcessState)
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		cmd.Process.Kill()
		<-s.done
		t.Errorf("vaultdev did not stop within %v of SIGTERM", stopTimeout)
		return
	}
	if !cmd.ProcessState.Success() {
		t.Errorf("vaultdev exited with %v on SIGTERM", cmd.ProcessState)
	}
}

// Restart stops the server and starts it again on the same port with the
// same data directory; it comes back unsealed.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.launch(t, "127.0.0.1:"+s.port)
}

// Client returns an API client for the server using the root token.
func (s *Server) Client(t testing.TB) *api.Client {
	t.Helper()
	cfg := api.DefaultConfig()
	cfg.Address = s.Addr
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("vault client: %v", err)
	}
	c.SetToken(s.RootToken)
	return c
}

// Seal seals the server through the API.
func (s *Server) Seal(t testing.TB) {
	t.Helper()
	if err := s.Client(t).Sys().Seal(); err != nil {
		t.Fatalf("vault seal: %v", err)
	}
}

// Unseal unseals the server through the API with the unseal key.
func (s *Server) Unseal(t testing.TB) {
	t.Helper()
	st, err := s.Client(t).Sys().Unseal(s.UnsealKey)
	if err != nil {
		t.Fatalf("vault unseal: %v", err)
	}
	if st.Sealed {
		t.Fatalf("vault unseal: still sealed")
	}
}

// PutPolicy creates or replaces an ACL policy.
func (s *Server) PutPolicy(t testing.TB, name, hcl string) {
	t.Helper()
	if err := s.Client(t).Sys().PutPolicy(name, hcl); err != nil {
		t.Fatalf("vault policy %s: %v", name, err)
	}
}

// AppRole creates or updates the role under approle/ and returns its role
// ID and a fresh secret ID. Zero TTLs mean Vault's defaults.
func (s *Server) AppRole(t testing.TB, role string, policies []string, tokenTTL, tokenMaxTTL time.Duration) (roleID, secretID string) {
	t.Helper()
	l := s.Client(t).Logical()
	path := "auth/approle/role/" + role
	if _, err := l.Write(path, map[string]any{
		"token_policies": policies,
		"token_ttl":      int(tokenTTL.Seconds()),
		"token_max_ttl":  int(tokenMaxTTL.Seconds()),
	}); err != nil {
		t.Fatalf("vault approle role %s: %v", role, err)
	}
	r, err := l.Read(path + "/role-id")
	if err != nil || r == nil {
		t.Fatalf("vault approle role-id %s: %v", role, err)
	}
	w, err := l.Write(path+"/secret-id", nil)
	if err != nil || w == nil {
		t.Fatalf("vault approle secret-id %s: %v", role, err)
	}
	roleID, _ = r.Data["role_id"].(string)
	secretID, _ = w.Data["secret_id"].(string)
	if roleID == "" || secretID == "" {
		t.Fatalf("vault approle %s: empty role_id or secret_id", role)
	}
	return roleID, secretID
}

// Logs returns everything the server printed so far, across restarts.
func (s *Server) Logs() string { return s.log.String() }
