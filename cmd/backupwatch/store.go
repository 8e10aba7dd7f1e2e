package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// recordStore is everything the commands need from a store.
type recordStore interface {
	List(ctx context.Context) ([]string, error)
	ListFolder(ctx context.Context, folder string) ([]string, error) // job records: status.JobsFolder
	Get(ctx context.Context, key string) (map[string]any, error)
	Update(ctx context.Context, key string, fn func(old map[string]any) (map[string]any, bool, error)) error
	Delete(ctx context.Context, key string) error
	String() string
}

var (
	_ recordStore = (*vaultkv.Store)(nil)
	_ recordStore = (*localstore.Store)(nil)
)

// storeOptions choose the store: Vault when an address is configured, the
// embedded local store otherwise.
type storeOptions struct {
	vault    vaultkv.Config
	localDir string
	// checksPrefix: where repository checks and per-host restore tests
	// are recorded in Vault (checks.go).
	checksPrefix string
	// exporters: serve's URLs to nudge after a write (internal/nudge),
	// and how to reach them (nudgeflags.go).
	exporters        string
	exporterAuthFile string
	exporterCAFile   string
	// maxJobs bounds a host's jobs at write time (deliver's jobcap.go).
	maxJobs int
}

func (o *storeOptions) addFlags(app *kingpin.Application) {
	v := &o.vault
	app.Flag("vault.address", "Vault address (an HA cluster's nodes: comma-separated, failed over in turn); without one, records are kept in the local store.").PlaceHolder("URL").Envar("VAULT_ADDR").StringVar(&v.Address)
	app.Flag("vault.ca-cert", "PEM file of the CA that signed Vault's certificate; default: none, the system's CAs.").PlaceHolder("FILE").Envar("VAULT_CACERT").StringVar(&v.CACert)
	app.Flag("vault.namespace", "Vault Enterprise namespace; default: none, the root namespace.").PlaceHolder("NAMESPACE").Envar("VAULT_NAMESPACE").StringVar(&v.Namespace)
	app.Flag("vault.tls-skip-verify", "Do not verify Vault's TLS certificate (insecure).").BoolVar(&v.TLSSkipVerify)
	app.Flag("vault.token-file", "Read the Vault token from this file (a Vault Agent sink); otherwise VAULT_TOKEN.").PlaceHolder("FILE").Envar("BACKUPWATCH_VAULT_TOKEN_FILE").StringVar(&v.TokenFile)
	app.Flag("vault.role-id-file", "Log in with AppRole using the role id in this file (the runbook's /etc/vault/role-id); default: none, the token of --vault.token-file or VAULT_TOKEN is used.").PlaceHolder("FILE").Envar("BACKUPWATCH_VAULT_ROLE_ID_FILE").StringVar(&v.RoleIDFile)
	app.Flag("vault.secret-id-file", "AppRole secret id file (the runbook's /etc/vault/secret-id); default: none, needed with --vault.role-id-file.").PlaceHolder("FILE").Envar("BACKUPWATCH_VAULT_SECRET_ID_FILE").StringVar(&v.SecretIDFile)
	app.Flag("vault.secret-id-wrapped", "The secret id file holds a response-wrapping token to unwrap.").BoolVar(&v.SecretIDWrapped)
	app.Flag("vault.approle-mount", "Mount path of the AppRole auth method; the default is where `vault auth enable approle` mounts it.").Default("approle").StringVar(&v.AppRoleMount)
	app.Flag("vault.allow-insecure-file-perms", "Accept token, secret id and --exporter.basic-auth-file files that group or others can read.").BoolVar(&v.AllowInsecureFilePerms)
	app.Flag("vault.mount", "KV mount holding the records; the default is the runbook's (`vault secrets enable -path=kv kv-v2`).").Default("kv").StringVar(&v.Mount)
	app.Flag("vault.prefix", "Path under the mount; each host's record is <prefix>/<host>, its jobs' <prefix>/jobs/<host>@<job>. The default is the runbook's path.").Default("golemtrust/backup-status").StringVar(&v.Prefix)
	app.Flag("vault.kv-version", "KV engine version, 1 or 2; the default, 0, detects it as the vault CLI does.").Default("0").IntVar(&v.KVVersion)
	app.Flag("vault.timeout", "Deadline of each request to Vault, 10s by default: a request unanswered by then fails.").Default("10s").DurationVar(&v.Timeout)
	app.Flag("vault.checks-prefix", "Path under the mount for records of checks made from outside the hosts: <prefix>/repository/<name> (repo-check), <prefix>/restore-test/<host>. The default sits beside the records' default prefix.").Default(defaultChecksPrefix).StringVar(&o.checksPrefix)
	o.addNudgeFlags(app)
	app.Flag("jobs.max-per-host", "A host's jobs (--job) at most: the first result of a job beyond them is refused (exit 2), its existing jobs still record; 0 for no limit, 100 by default. Counted in the local store, or with Vault among the jobs this machine recorded (beside the spool).").Default(fmt.Sprint(config.DefaultMaxJobsPerHost)).Envar("BACKUPWATCH_MAX_JOBS_PER_HOST").IntVar(&o.maxJobs)
	app.Flag("store.dir", "Directory of the local store, used when no Vault address is set; default: /var/lib/backupwatch/records for root, $XDG_STATE_HOME/backupwatch/records (else ~/.local/state/backupwatch/records) for other users.").Default(defaultStoreDir()).StringVar(&o.localDir)
}

// usesVault reports whether records live in Vault.
func (o *storeOptions) usesVault() bool { return o.vault.Address != "" }

// validate checks every store flag as given, without touching the network
// or creating anything: the one place they are checked, before any command
// does work (main calls it; so does open, for commands run directly).
func (o *storeOptions) validate() error {
	if err := o.validateNudge(); err != nil {
		return err
	}
	if o.maxJobs < 0 {
		return usageError{fmt.Errorf("--jobs.max-per-host must be 0 (no limit) or more, not %d", o.maxJobs)}
	}
	if !o.usesVault() {
		if strings.TrimSpace(o.localDir) == "" {
			return usageError{errors.New("--store.dir must not be empty")}
		}
		return nil
	}
	if err := o.vault.Validate(); err != nil {
		return usageError{err}
	}
	return nil
}

// validate checks the global flags: the store's and the spool's.
func (g *globals) validate() error {
	if err := g.store.validate(); err != nil {
		return err
	}
	if g.spool.dir != "" && strings.TrimSpace(g.spool.dir) == "" {
		return usageError{errors.New("--spool.dir must not be blank")}
	}
	return nil
}

// open opens the store for a command that writes: a local store directory
// is created if missing.
func (o *storeOptions) open(g *globals, maxConns int) (recordStore, error) {
	return o.openStore(g, maxConns, true)
}

// openRead opens the store for a command that only reads (or deletes): a
// missing local store directory is an error, so that a mistyped
// --store.dir is not silently created and reported as an empty fleet.
func (o *storeOptions) openRead(g *globals, maxConns int) (recordStore, error) {
	return o.openStore(g, maxConns, false)
}

func (o *storeOptions) openStore(g *globals, maxConns int, create bool) (recordStore, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if !o.usesVault() {
		if !create {
			if err := checkStoreDir(o.localDir); err != nil {
				return nil, err
			}
		}
		return localstore.Open(o.localDir)
	}
	cfg := o.vault
	cfg.Logger = g.logger
	cfg.MaxConns = maxConns
	return vaultkv.New(cfg)
}

// checkStoreDir refuses a local store directory that is not there to read.
func checkStoreDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageError{fmt.Errorf("--store.dir %s does not exist: nothing was ever recorded there (a typo? record creates it)", dir)}
	case err != nil:
		return fmt.Errorf("open local store: %w", err)
	case !fi.IsDir():
		return usageError{fmt.Errorf("--store.dir %s is not a directory", dir)}
	}
	return nil
}
