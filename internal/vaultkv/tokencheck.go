package vaultkv

import (
	"context"
)

// TokenValid asks Vault whether the store's token still works (a lookup of
// itself). A denied request is then told apart: a working token refused by
// its policy is a refusal for good, while a token that no longer works is
// fixed by new credentials, after which the request can pass.
func (s *Store) TokenValid(ctx context.Context) error {
	if err := s.ensureToken(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if _, err := s.client.Auth().Token().LookupSelfWithContext(ctx); err != nil {
		return s.wrap("look up the token of", s.method(), err)
	}
	return nil
}
