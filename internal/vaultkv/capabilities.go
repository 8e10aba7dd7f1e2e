package vaultkv

import (
	"context"
	"slices"
)

// KVVersion logs in if needed and returns the KV version of the mount,
// detected unless configured.
func (s *Store) KVVersion(ctx context.Context) (int, error) {
	return s.ready(ctx)
}

// Capabilities asks Vault (sys/capabilities-self) what the store's token
// may do on the record at key, without reading or writing it.
func (s *Store) Capabilities(ctx context.Context, key string) ([]string, error) {
	var caps []string
	err := s.do(ctx, "check the capabilities on", key, func(ctx context.Context, v int) error {
		var err error
		caps, err = s.client.Sys().CapabilitiesSelfWithContext(ctx, s.dataPath(v, key))
		return err
	})
	return caps, err
}

// CanWrite reports whether capabilities let Update create and replace a
// record (and, for check-and-set on KV v2, read it first).
func CanWrite(caps []string) bool {
	if slices.Contains(caps, "root") {
		return true
	}
	for _, c := range []string{"create", "update", "read"} {
		if !slices.Contains(caps, c) {
			return false
		}
	}
	return true
}
