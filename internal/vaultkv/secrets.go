package vaultkv

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
)

// maxSecrets bounds the values a store remembers: an exporter that runs
// for months logs in again every token lifetime. The oldest go first; a
// watcher was told of each when it was learned.
const maxSecrets = 32

// Secrets returns the credential values the store holds or has held: the
// token given (Config.Token, VAULT_TOKEN) or read from the token file, the
// AppRole secret id file's content (the secret id, or the wrapping token
// that held it) and what it unwrapped to, each token a login or renewal
// returned, and the password of credentials in the address. A token a
// new login replaced stays in the list: it is still a secret in a log.
// The role id is among them too: not a secret on its own, but half of a
// login. The values are the current ones; the slice is the caller's.
func (s *Store) Secrets() []string {
	s.secMu.Lock()
	defer s.secMu.Unlock()
	return slices.Clone(s.secrets)
}

// WatchSecrets calls fn with each value Secrets returns now, and with
// every one the store learns from then on (a login, a renewal, a token
// file Vault Agent rewrote), before the store uses it. fn must not call
// into the store; it may be called from any goroutine.
func (s *Store) WatchSecrets(fn func(secret string)) {
	s.secMu.Lock()
	s.watchers = append(s.watchers, fn)
	known := slices.Clone(s.secrets)
	s.secMu.Unlock()
	for _, v := range known {
		fn(v)
	}
}

// learn records a credential value and tells the watchers.
func (s *Store) learn(v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	s.secMu.Lock()
	if slices.Contains(s.secrets, v) {
		s.secMu.Unlock()
		return
	}
	s.secrets = append(s.secrets, v)
	if len(s.secrets) > maxSecrets {
		s.secrets = slices.Delete(s.secrets, 0, len(s.secrets)-maxSecrets)
	}
	watchers := slices.Clone(s.watchers)
	s.secMu.Unlock()
	for _, fn := range watchers {
		fn(v)
	}
}

// learnConfigured learns what the configuration names before any request:
// a program that prints the token, role id or secret id file before the first
// login (a backup started while Vault is down) cannot print it unscrubbed.
// The files are read as they are, whatever their mode: only to scrub.
func (s *Store) learnConfigured(rawAddress string) {
	s.learn(s.cfg.Token)
	s.learn(os.Getenv("VAULT_TOKEN"))
	for _, p := range []string{s.cfg.TokenFile, s.cfg.SecretIDFile, s.cfg.RoleIDFile} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<10 {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			s.learn(string(b))
		}
	}
	for _, a := range splitAddresses(rawAddress) {
		if u, err := url.Parse(a); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				s.learn(pw)
			} else {
				s.learn(u.User.Username()) // https://token@host: the name is the secret
			}
		}
	}
}

// userinfo finds the credentials of a URL: everything between "scheme://"
// and the last "@" before the host ends.
var userinfo = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s"'<>]*@`)

// redactURLs replaces the credentials of every URL in text by
// "redacted": https://u:pw@vault:8200 becomes https://redacted@vault:8200.
// The whole user information goes, the name too, as it can be a token.
func redactURLs(text string) string {
	if !strings.Contains(text, "@") {
		return text
	}
	return userinfo.ReplaceAllString(text, "${1}redacted@")
}

// redactedError is an error whose message had URL credentials removed; the
// original stays reachable for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactError prefixes err's message and removes URL credentials from it.
func redactError(prefix string, err error) error {
	return &redactedError{msg: redactURLs(prefix + err.Error()), err: err}
}
