package vaultkv

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Validate checks the configuration without touching the network or the
// file system, and names the command-line flag of each problem: one error
// per problem, joined. Address may list an HA cluster's nodes, comma-
// separated (see failover.go). An empty Address is valid (VAULT_ADDR then applies,
// and is checked by New); everything else is checked as given, so a zero
// or negative Timeout is refused rather than silently replaced.
func (c Config) Validate() error {
	var errs []error
	if c.Address != "" {
		if err := validateAddresses(splitAddresses(c.Address)); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.KVVersion {
	case 0, 1, 2:
	default:
		errs = append(errs, fmt.Errorf("--vault.kv-version must be 1, 2 or 0 (detect it), not %d", c.KVVersion))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--vault.timeout must be positive, not %v", c.Timeout))
	}
	for _, p := range []struct {
		flag, value string
		optional    bool
	}{
		{"--vault.mount", c.Mount, false},
		{"--vault.prefix", c.Prefix, false},
		{"--vault.approle-mount", c.AppRoleMount, true},
		{"--vault.namespace", c.Namespace, true},
	} {
		if p.optional && p.value == "" {
			continue
		}
		if err := validatePath(p.value); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", p.flag, status.Truncate(p.value, 80), err))
		}
	}
	switch {
	case c.RoleIDFile != "" && c.SecretIDFile == "":
		errs = append(errs, errors.New("--vault.role-id-file needs --vault.secret-id-file"))
	case c.RoleIDFile == "" && c.SecretIDFile != "":
		errs = append(errs, errors.New("--vault.secret-id-file needs --vault.role-id-file"))
	}
	if c.SecretIDWrapped && c.SecretIDFile == "" {
		errs = append(errs, errors.New("--vault.secret-id-wrapped needs --vault.secret-id-file"))
	}
	if c.RoleIDFile != "" && c.TokenFile != "" {
		errs = append(errs, errors.New("--vault.token-file and --vault.role-id-file both set: log in one way"))
	}
	return errors.Join(errs...)
}

// validateAddress accepts what the Vault client can reach: http(s)://host[:port][/path]
// or unix:///path/to/socket. The address is shown without its password.
func validateAddress(addr string) error {
	bad := func(why string) error {
		return fmt.Errorf("--vault.address %q: %s (want e.g. https://vault.example.com:8200)", shownAddress(addr), why)
	}
	if strings.IndexFunc(addr, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return bad("contains spaces or control characters")
	}
	u, err := url.Parse(addr)
	if err != nil {
		return bad("not a URL") // url's error repeats the address, password included
	}
	switch u.Scheme {
	case "http", "https":
	case "unix":
		if u.Path == "" || u.Path == "/" {
			return bad("no socket path")
		}
		return nil
	case "":
		return bad("not a URL")
	default:
		if u.Opaque != "" && u.Host == "" {
			return bad("not a URL") // host:port without a scheme
		}
		return bad(fmt.Sprintf("scheme %q is not supported, only http, https and unix", u.Scheme))
	}
	if u.Hostname() == "" {
		return bad("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("port out of range")
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return bad("a query or fragment has no place in it")
	}
	return nil
}

// shownAddress is an address as an error may show it: its user information
// (a password, or a name that can be a token) replaced by "redacted",
// whether or not it parses.
func shownAddress(addr string) string {
	if u, err := url.Parse(addr); err == nil {
		if u.User != nil {
			u.User = url.User("redacted")
		}
		return status.Truncate(u.String(), 120)
	}
	if i := strings.LastIndex(addr, "@"); i >= 0 {
		start := 0
		if j := strings.Index(addr, "://"); j >= 0 && j < i {
			start = j + 3
		}
		return status.Truncate(addr[:start]+"redacted"+addr[i:], 120)
	}
	return status.Truncate(addr, 120)
}

// validatePath refuses a Vault path that would leave where it is meant to
// be ("..", which Vault's client cleans away), hides empty segments, or
// carries characters that change the request's meaning.
func validatePath(p string) error {
	t := strings.Trim(p, "/")
	if t == "" {
		return errors.New("must not be empty")
	}
	for _, seg := range strings.Split(t, "/") {
		switch seg {
		case "":
			return errors.New("has an empty segment (//)")
		case ".", "..":
			return fmt.Errorf("has a %q segment", seg)
		}
	}
	if i := strings.IndexFunc(t, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`?#%\*+`, r)
	}); i >= 0 {
		return fmt.Errorf("character %q is not allowed in a Vault path here", []rune(t[i:])[0])
	}
	return nil
}
