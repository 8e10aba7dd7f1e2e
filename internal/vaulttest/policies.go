package vaulttest

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/deploy"
)

// PutShippedPolicies writes the Vault policies backupwatch ships, by name
// ("backupwatch-writer" is deploy/vault/backupwatch-writer.hcl), as the
// deployment guide does: with the accessor of the approle/ mount in place
// of AUTH_APPROLE_ACCESSOR.
func (s *Server) PutShippedPolicies(t testing.TB, names ...string) {
	t.Helper()
	auths, err := s.Client(t).Sys().ListAuth()
	if err != nil {
		t.Fatalf("vault list auth mounts: %v", err)
	}
	approle, ok := auths["approle/"]
	if !ok {
		t.Fatalf("vault has no approle/ mount")
	}
	for _, name := range names {
		b, err := fs.ReadFile(deploy.FS(), "vault/"+name+".hcl")
		if err != nil {
			t.Fatalf("read the shipped policy %s: %v", name, err)
		}
		s.PutPolicy(t, name, strings.ReplaceAll(string(b), "AUTH_APPROLE_ACCESSOR", approle.Accessor))
	}
}
