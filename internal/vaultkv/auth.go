package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
)

// ReadSecretFile reads a token, role id or secret id from path, refusing a
// file that group or others can read unless allowInsecure. The content is
// never part of an error.
func ReadSecretFile(path string, allowInsecure bool) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if perm := fi.Mode().Perm(); perm&0o044 != 0 && !allowInsecure {
		return "", fmt.Errorf("%s is readable by group or others (mode %04o): chmod 600 it, or pass --vault.allow-insecure-file-perms", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// method describes how the store authenticates, for messages: never a value.
func (s *Store) method() string {
	switch {
	case s.cfg.RoleIDFile != "":
		return "approle (role id file " + s.cfg.RoleIDFile + ")"
	case s.cfg.TokenFile != "":
		return "token file " + s.cfg.TokenFile
	default:
		return "token"
	}
}

// canLogin reports whether a fresh token can be had without the operator.
func (s *Store) canLogin() bool { return s.cfg.RoleIDFile != "" || s.cfg.TokenFile != "" }

// login gets a token and learns its lifetime. Called with s.mu held.
func (s *Store) login(ctx context.Context) error {
	switch {
	case s.cfg.RoleIDFile != "":
		return s.loginAppRole(ctx)
	case s.cfg.TokenFile != "":
		tok, err := ReadSecretFile(s.cfg.TokenFile, s.cfg.AllowInsecureFilePerms)
		if err != nil {
			return &Error{Op: "log in with", Path: s.method(), Reason: err.Error(), Kind: KindDenied, Err: err}
		}
		s.learn(tok) // Vault Agent may have written a new one since
		s.client.SetToken(tok)
	default:
		tok := s.cfg.Token
		if tok == "" {
			tok = os.Getenv(api.EnvVaultToken)
		}
		if tok == "" {
			return &Error{Op: "log in with", Path: s.method(), Reason: "no token: set VAULT_TOKEN, --vault.token-file or --vault.role-id-file", Kind: KindDenied}
		}
		s.learn(tok)
		s.client.SetToken(tok)
	}
	return s.lookupSelf(ctx)
}

func (s *Store) loginAppRole(ctx context.Context) error {
	fail := func(err error) error {
		kind, reason := classify(err, s.address)
		if kind == KindOther {
			kind = KindDenied
		}
		return &Error{Op: "log in with", Path: s.method(), Reason: reason, Kind: kind, Err: err}
	}
	roleID, err := ReadSecretFile(s.cfg.RoleIDFile, true) // any mode: a role id is not a secret on its own
	if err != nil {
		return fail(err)
	}
	s.learn(roleID) // but half of one: scrubbed like the secret id
	if s.secretID == "" {
		sid, err := ReadSecretFile(s.cfg.SecretIDFile, s.cfg.AllowInsecureFilePerms)
		if err != nil {
			return fail(err)
		}
		s.learn(sid) // the secret id, or the wrapping token holding it
		if s.cfg.SecretIDWrapped {
			// A wrapping token can be unwrapped once: keep what it held in
			// memory so later logins work.
			sec, err := s.client.Logical().UnwrapWithContext(ctx, sid)
			if err != nil {
				return fail(fmt.Errorf("unwrap secret id: %w", err))
			}
			var v string
			if sec != nil {
				v, _ = sec.Data["secret_id"].(string)
			}
			if v == "" {
				return fail(errors.New("unwrap secret id: the wrapped response holds no secret_id"))
			}
			s.learn(v)
			sid = v
		}
		s.secretID = sid
	}
	auth, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: s.secretID}, approle.WithMountPath(s.cfg.AppRoleMount))
	if err != nil {
		return fail(err)
	}
	sec, err := s.client.Auth().Login(ctx, auth)
	if err != nil {
		return fail(err)
	}
	if sec == nil || sec.Auth == nil {
		return fail(errors.New("login answered without a token"))
	}
	s.learn(sec.Auth.ClientToken)
	s.setLifetime(time.Duration(sec.Auth.LeaseDuration)*time.Second, sec.Auth.Renewable)
	return nil
}

// lookupSelf learns a given token's lifetime. A token that may not look
// itself up is used as it is.
func (s *Store) lookupSelf(ctx context.Context) error {
	sec, err := s.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		kind, reason := classify(err, s.address)
		if kind == KindDenied {
			return &Error{Op: "log in with", Path: s.method(), Reason: "token rejected (invalid, expired or revoked)", Kind: KindDenied, Err: err}
		}
		if kind == KindUnreachable || kind == KindSealed {
			return &Error{Op: "log in with", Path: s.method(), Reason: reason, Kind: kind, Err: err}
		}
		s.setLifetime(0, false)
		return nil
	}
	ttl, _ := sec.TokenTTL()
	renewable, _ := sec.TokenIsRenewable()
	s.setLifetime(ttl, renewable)
	return nil
}

func (s *Store) setLifetime(ttl time.Duration, renewable bool) {
	s.ttl, s.renewable = ttl, renewable
	s.expiry = time.Time{}
	if ttl > 0 {
		s.expiry = s.now().Add(ttl)
	}
	s.loggedIn = true
}

// ensureToken logs in when there is no token yet, renews a token past a
// third of its life, and logs in again when renewal no longer helps.
func (s *Store) ensureToken(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loggedIn {
		return s.login(ctx)
	}
	if s.expiry.IsZero() || time.Until(s.expiry) > s.ttl*2/3 {
		return nil
	}
	if s.renewable && s.now().Before(s.expiry) {
		sec, err := s.client.Auth().Token().RenewSelfWithContext(ctx, int(s.ttl.Seconds()))
		if err == nil && sec != nil && sec.Auth != nil {
			s.learn(sec.Auth.ClientToken) // the same token, unless Vault says otherwise
			got := time.Duration(sec.Auth.LeaseDuration) * time.Second
			s.expiry = s.now().Add(got)
			s.log.Debug("vault token renewed", "ttl", got)
			if got > s.ttl/3 || !s.canLogin() {
				return nil
			}
			// Near its max TTL: renewal no longer extends it enough.
		} else if err != nil {
			s.log.Info("vault token renewal failed", "err", s.wrap("renew token of", s.method(), err))
		}
	}
	if !s.canLogin() {
		return nil // a given token: use it until Vault says no
	}
	if err := s.login(ctx); err != nil {
		return err
	}
	s.log.Info("logged in to vault again", "method", s.method())
	return nil
}

// relogin is called after Vault denied a request: a token that expired or
// was revoked is replaced once, at most every few seconds.
func (s *Store) relogin(ctx context.Context) bool {
	if !s.canLogin() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now().Sub(s.lastRelogin) < 5*time.Second {
		return false
	}
	s.lastRelogin = s.now()
	if err := s.login(ctx); err != nil {
		s.log.Warn("vault login after a denied request failed", "err", err)
		return false
	}
	return true
}
