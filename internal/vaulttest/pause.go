//go:build unix

package vaulttest

import (
	"syscall"
	"testing"
)

// Pause stops the server process (SIGSTOP): connections are accepted by the
// kernel but nothing answers, as with a Vault that hangs. Resume continues it.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatalf("vaultdev: pause: not running")
	}
	p := s.cmd.Process
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("vaultdev: pause: %v", err)
	}
	t.Cleanup(func() { p.Signal(syscall.SIGCONT) }) // never left stopped, so Stop works
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatalf("vaultdev: resume: not running")
	}
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("vaultdev: resume: %v", err)
	}
}
