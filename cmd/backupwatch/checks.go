package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// The records of checks made from outside the hosts live beside the
// hosts' records, never among them: in Vault under --vault.checks-prefix
// (kv/golemtrust/backup-checks/<kind>/<name>), in the local store under
// <store.dir>/checks/<kind>/. No host key, job key or restore-test can
// meet them, and a policy can grant them alone.
const (
	checksRepository  = "repository"   // one record per repository (repo-check)
	checksRestoreTest = "restore-test" // one record per tested host
)

// defaultChecksPrefix is --vault.checks-prefix's default.
const defaultChecksPrefix = "golemtrust/backup-checks"

// checksLocation is where the records of kind live, for messages and docs.
func (o *storeOptions) checksLocation(kind string) string {
	if !o.usesVault() {
		return filepath.Join(o.localDir, "checks", kind)
	}
	return path.Join(o.vault.Mount, strings.Trim(o.checksPrefix, "/"), kind)
}

// checksConfig is the Vault configuration of the records of kind.
func (o *storeOptions) checksConfig(kind string) vaultkv.Config {
	cfg := o.vault
	cfg.Prefix = path.Join(strings.Trim(o.checksPrefix, "/"), kind)
	return cfg
}

// validateChecks checks --vault.checks-prefix as validate checks the rest.
func (o *storeOptions) validateChecks() error {
	if !o.usesVault() {
		return nil
	}
	if strings.Trim(o.checksPrefix, "/") == "" {
		return usageError{errors.New("--vault.checks-prefix must not be empty")}
	}
	if strings.Trim(o.checksPrefix, "/") == strings.Trim(o.vault.Prefix, "/") {
		return usageError{errors.New("--vault.checks-prefix must differ from --vault.prefix: check records must never sit among host records")}
	}
	if err := o.checksConfig(checksRepository).Validate(); err != nil {
		return usageError{err}
	}
	return nil
}

// openChecks opens the store of the records of kind; create makes a
// missing local directory (for writers), else a missing one is an empty
// store (nothing checked yet).
func (o *storeOptions) openChecks(g *globals, kind string, create bool) (recordStore, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := o.validateChecks(); err != nil {
		return nil, err
	}
	if !o.usesVault() {
		dir := o.checksLocation(kind)
		if !create {
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				return emptyStore(dir), nil
			}
		}
		return localstore.Open(dir)
	}
	cfg := o.checksConfig(kind)
	cfg.Logger = g.logger
	cfg.MaxConns = 2
	return vaultkv.New(cfg)
}

// emptyStore is a local checks directory that does not exist yet.
type emptyStore string

func (e emptyStore) List(context.Context) ([]string, error) { return nil, nil }
func (e emptyStore) Get(context.Context, string) (map[string]any, error) {
	return nil, status.ErrNotFound
}
func (e emptyStore) Update(context.Context, string, func(map[string]any) (map[string]any, bool, error)) error {
	return errors.New("local store " + string(e) + " does not exist")
}
func (e emptyStore) Delete(context.Context, string) error                 { return status.ErrNotFound }
func (e emptyStore) String() string                                       { return "local store " + string(e) }
func (e emptyStore) ListFolder(context.Context, string) ([]string, error) { return nil, nil }

// newWitness is serve's collector of the check records.
func newWitness(g *globals, timeout time.Duration) (*collector.Witness, error) {
	repos, err := g.store.openChecks(g, checksRepository, false)
	if err != nil {
		return nil, err
	}
	tests, err := g.store.openChecks(g, checksRestoreTest, false)
	if err != nil {
		return nil, err
	}
	return collector.NewWitness(collector.WitnessOptions{Repositories: repos, RestoreTests: tests, Timeout: timeout, Logger: g.logger}), nil
}
