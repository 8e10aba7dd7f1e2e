// Package preflight holds the checks of `backupwatch check`: that serve
// could listen where it is told, that the store's settings and secret files
// are usable, and (online) that the credentials can do their job, all
// without writing anything.
package preflight

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// Say reports one finding of a check that passed, as a printf format.
type Say func(format string, args ...any)

// Roles the online check checks for, named as the Vault policies in
// deploy/vault.
const (
	Writer        = "writer"
	Exporter      = "exporter"
	RestoreTester = "restore-tester"
)

// ListenAddresses refuses what serve could not listen on.
func ListenAddresses(addrs []string) error {
	var errs []error
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err == nil {
			if _, err = net.LookupPort("tcp", port); err != nil {
				err = fmt.Errorf("port %q", port)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--web.listen-address %q: not host:port (e.g. :10036): %w", status.Truncate(a, 80), err))
		}
	}
	return errors.Join(errs...)
}

// LocalStore checks --store.dir without creating it: a missing directory
// is fine (record and run create it), a file in its place is not.
func LocalStore(dir string, say Say) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("--store.dir %s is not a directory", dir)
	case err == nil:
		say("store: local store %s", dir)
	default:
		say("store: local store %s (does not exist yet: record and run create it; status, serve and textfile refuse it)", dir)
	}
	return nil
}

// VaultCredentials checks that the secret files of cfg are readable and
// private (a role ID is not a secret) and that some credential is given,
// here or in VAULT_TOKEN. The files' content never reaches an error.
func VaultCredentials(cfg vaultkv.Config) error {
	var errs []error
	for _, f := range []struct{ flag, path string }{
		{"--vault.token-file", cfg.TokenFile},
		{"--vault.role-id-file", cfg.RoleIDFile},
		{"--vault.secret-id-file", cfg.SecretIDFile},
	} {
		if f.path == "" {
			continue
		}
		allowInsecure := cfg.AllowInsecureFilePerms || f.flag == "--vault.role-id-file"
		if _, err := vaultkv.ReadSecretFile(f.path, allowInsecure); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.flag, err))
		}
	}
	if cfg.TokenFile == "" && cfg.RoleIDFile == "" && os.Getenv("VAULT_TOKEN") == "" {
		errs = append(errs, errors.New("no Vault credentials: set VAULT_TOKEN, --vault.token-file or --vault.role-id-file"))
	}
	return errors.Join(errs...)
}
