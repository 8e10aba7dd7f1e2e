// Package vaultkv stores backup status records in Vault's KV engine, version
// 1 or 2, with Vault's official client: token, token file or AppRole login,
// renewal and re-login, and atomic updates on KV v2.
package vaultkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Config says where the records are and how to log in. Empty fields take
// Vault's usual environment (VAULT_ADDR, VAULT_CACERT, VAULT_NAMESPACE...).
type Config struct {
	Address       string
	CACert        string
	Namespace     string
	TLSSkipVerify bool

	Token                  string // else VAULT_TOKEN
	TokenFile              string // e.g. a Vault Agent sink
	RoleIDFile             string // AppRole, as the runbook logs in
	SecretIDFile           string
	SecretIDWrapped        bool
	AppRoleMount           string
	AllowInsecureFilePerms bool

	Mount     string // "kv"
	Prefix    string // "golemtrust/backup-status"
	KVVersion int    // 1 or 2; 0 detects it as the vault CLI does

	Timeout  time.Duration // per request
	MaxConns int           // keep-alive connections kept for concurrent reads

	Logger *slog.Logger
}

// Store is a record store on a Vault KV mount.
type Store struct {
	cfg     Config
	client  *api.Client
	address string
	log     *slog.Logger
	now     func() time.Time

	mu          sync.Mutex // guards what follows
	loggedIn    bool
	secretID    string
	ttl         time.Duration
	expiry      time.Time
	renewable   bool
	lastRelogin time.Time
	version     int

	secMu    sync.Mutex // guards what follows; never held while calling out
	secrets  []string
	watchers []func(string)

	noKeep sync.Map // keys whose max_versions the policy refused (keepVersions)
}

// New builds a store. It does not touch the network: login and KV version
// detection happen on first use, so a process can start while Vault is down.
func New(cfg Config) (*Store, error) {
	cfg.Mount = strings.Trim(cfg.Mount, "/")
	cfg.Prefix = strings.Trim(cfg.Prefix, "/")
	if cfg.AppRoleMount == "" {
		cfg.AppRoleMount = "approle"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	vc := api.DefaultConfig()
	if vc.Error != nil {
		return nil, redactError("vault: ", vc.Error)
	}
	shown := cfg.Address
	var nodes []string // the nodes of an HA cluster, when several (failover.go)
	if cfg.Address != "" {
		nodes = splitAddresses(cfg.Address)
		vc.Address = nodes[0]
	} else if err := validateAddress(vc.Address); err != nil {
		return nil, fmt.Errorf("vault: VAULT_ADDR: %w", err)
	} else {
		shown = vc.Address
	}
	if cfg.CACert != "" || cfg.TLSSkipVerify {
		if err := vc.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert, Insecure: cfg.TLSSkipVerify}); err != nil {
			return nil, redactError("vault: TLS configuration: ", err)
		}
	}
	vc.Timeout = cfg.Timeout
	vc.MaxRetries = 1
	if t, ok := vc.HttpClient.Transport.(*http.Transport); ok && cfg.MaxConns > 0 {
		t.MaxIdleConnsPerHost = cfg.MaxConns
		t.MaxIdleConns = cfg.MaxConns * 2
	}
	if len(nodes) > 1 {
		vc.HttpClient.Transport = newFailover(vc.HttpClient.Transport, nodes)
	}
	c, err := api.NewClient(vc)
	if err != nil {
		// The client's errors quote the address, credentials and all.
		return nil, redactError("vault: ", err)
	}
	c.ClearToken() // the token comes from login, never implicitly
	if cfg.Namespace != "" {
		c.SetNamespace(cfg.Namespace)
	}
	s := &Store{cfg: cfg, client: c, address: redactURLs(shown), log: cfg.Logger, now: time.Now, version: cfg.KVVersion}
	s.learnConfigured(shown)
	return s, nil
}

// String names the store in messages, the status page and the spool
// folder's name: its address, without credentials (see redactURLs),
// and location.
func (s *Store) String() string {
	return "vault " + s.address + " " + s.cfg.Mount + "/" + s.cfg.Prefix
}

// Location is the path of a key as an operator writes it with the vault CLI.
func (s *Store) Location(key string) string {
	if key == "" {
		return s.cfg.Mount + "/" + s.cfg.Prefix
	}
	return s.cfg.Mount + "/" + s.cfg.Prefix + "/" + key
}

// Ping logs in and detects the KV version: everything short of a read.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.ready(ctx)
	return err
}

// ready makes sure there is a live token and a known KV version.
func (s *Store) ready(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.ensureToken(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != 0 {
		return s.version, nil
	}
	v, err := s.detectVersion(ctx)
	if err != nil {
		return 0, err
	}
	s.version = v
	return v, nil
}

// detectVersion asks sys/internal/ui/mounts/<path>, as `vault kv` does; a
// Vault that does not know that endpoint has only KV v1.
func (s *Store) detectVersion(ctx context.Context) (int, error) {
	p := "sys/internal/ui/mounts/" + s.cfg.Mount + "/" + s.cfg.Prefix
	sec, err := s.client.Logical().ReadWithContext(ctx, p)
	if err != nil {
		var re *api.ResponseError
		if errors.As(err, &re) && re.StatusCode == 404 {
			return 1, nil
		}
		e := s.wrap("detect KV version of", s.cfg.Mount, err)
		var ve *Error
		if errors.As(e, &ve) && ve.Kind == KindDenied {
			ve.Reason += " (no access under this mount, or no such mount; --vault.kv-version skips detection)"
		}
		return 0, e
	}
	if sec == nil || sec.Data == nil {
		return 1, nil
	}
	if mp, _ := sec.Data["path"].(string); mp != "" && strings.Trim(mp, "/") != s.cfg.Mount {
		return 0, &Error{Op: "detect KV version of", Path: s.cfg.Mount, Reason: fmt.Sprintf("%s is not a mount; the mount holding it is %s (set --vault.mount)", s.cfg.Mount, mp)}
	}
	if t, _ := sec.Data["type"].(string); t != "" && t != "kv" && t != "generic" {
		return 0, &Error{Op: "detect KV version of", Path: s.cfg.Mount, Reason: fmt.Sprintf("mount is of type %q, not kv", t)}
	}
	if opts, ok := sec.Data["options"].(map[string]any); ok {
		if v, _ := opts["version"].(string); v == "2" {
			return 2, nil
		}
	}
	return 1, nil
}

func (s *Store) dataPath(v int, key string) string {
	if v == 2 {
		return path.Join(s.cfg.Mount, "data", s.cfg.Prefix, key)
	}
	return path.Join(s.cfg.Mount, s.cfg.Prefix, key)
}

func (s *Store) metaPath(v int, key string) string {
	if v == 2 {
		return path.Join(s.cfg.Mount, "metadata", s.cfg.Prefix, key)
	}
	return path.Join(s.cfg.Mount, s.cfg.Prefix, key)
}

// do runs one request with a deadline; a denied request is tried once more
// after a fresh login, for a token that expired behind our back.
func (s *Store) do(ctx context.Context, op, key string, f func(ctx context.Context, v int) error) error {
	v, err := s.ready(ctx)
	if err != nil {
		return err
	}
	call := func() error {
		rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		defer cancel()
		return f(rctx, v)
	}
	err = call()
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == 403 && s.relogin(ctx) {
		err = call()
	}
	return s.wrap(op, s.Location(key), err)
}

// List returns the keys under the prefix, sorted. Sub-folders are returned
// with their trailing slash so that a caller can report them.
func (s *Store) List(ctx context.Context) ([]string, error) { return s.ListFolder(ctx, "") }

// ListFolder returns the keys in a folder under the prefix (such as
// status.JobsFolder), sorted, as List does; none when it does not exist.
func (s *Store) ListFolder(ctx context.Context, folder string) ([]string, error) {
	var keys []string
	err := s.do(ctx, "list", folder, func(ctx context.Context, v int) error {
		sec, err := s.client.Logical().ListWithContext(ctx, s.metaPath(v, folder))
		if err != nil || sec == nil {
			return err // nil, nil: nothing written yet
		}
		raw, _ := sec.Data["keys"].([]any)
		for _, k := range raw {
			if ks, ok := k.(string); ok && !(folder == status.JobsFolder && status.IsSideName(ks)) {
				keys = append(keys, ks)
			}
		}
		return nil
	})
	sort.Strings(keys)
	return keys, err
}

// Get reads the record at key, or an error wrapping status.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (map[string]any, error) {
	var doc map[string]any
	var stored time.Time
	err := s.do(ctx, "read", key, func(ctx context.Context, v int) error {
		var err error
		doc, stored, err = s.readStored(ctx, v, key)
		return err
	})
	if err == nil && doc == nil {
		return nil, fmt.Errorf("read %s: %w", s.Location(key), status.ErrNotFound)
	}
	if err == nil && !stored.IsZero() {
		doc[status.StoredAtKey] = stored
	}
	return doc, err
}

// readStored is read, also returning, on KV v2, when Vault stored the
// current version (by Vault's clock): the one clock every writer's record
// can be compared with.
func (s *Store) readStored(ctx context.Context, v int, key string) (map[string]any, time.Time, error) {
	sec, err := s.client.Logical().ReadWithContext(ctx, s.dataPath(v, key))
	if err != nil || sec == nil {
		return nil, time.Time{}, err
	}
	if v == 1 {
		return sec.Data, time.Time{}, nil
	}
	var stored time.Time
	if md, ok := sec.Data["metadata"].(map[string]any); ok {
		if c, ok := md["created_time"].(string); ok {
			stored, _ = time.Parse(time.RFC3339Nano, c)
		}
	}
	data, _ := sec.Data["data"].(map[string]any)
	return data, stored, nil
}

// read returns the current data and, on KV v2, the version to check-and-set
// against (0 when the key has never been written).
func (s *Store) read(ctx context.Context, v int, key string) (map[string]any, int64, error) {
	sec, err := s.client.Logical().ReadWithContext(ctx, s.dataPath(v, key))
	if err != nil || sec == nil {
		return nil, 0, err
	}
	if v == 1 {
		return sec.Data, 0, nil
	}
	var version int64
	if md, ok := sec.Data["metadata"].(map[string]any); ok {
		if n, ok := md["version"].(json.Number); ok {
			version, _ = n.Int64()
		}
	}
	data, _ := sec.Data["data"].(map[string]any) // nil when deleted or destroyed
	return data, version, nil
}

const casMismatch = "check-and-set parameter did not match"

// Update reads the record, lets fn compute the new one, and writes it. On
// KV v2 the write is a check-and-set against the version read, retried on
// a concurrent change, so two writers never lose each other's fields. On
// KV v1 it is a plain read-modify-write: KV v1 offers nothing better.
func (s *Store) Update(ctx context.Context, key string, fn func(old map[string]any) (map[string]any, bool, error)) error {
	const attempts = 50
	for i := 0; i < attempts; i++ {
		retry := false
		var fnErr error
		err := s.do(ctx, "write", key, func(ctx context.Context, v int) error {
			var old map[string]any
			var version int64
			var err error
			_, _, isSide := status.SplitSideKey(key)
			if v == 2 && !isSide {
				var m kvMeta
				if old, m, err = s.readV2(ctx, key, 0); err != nil {
					return err
				}
				if old[status.FieldHistory] == nil {
					retry, fnErr, err = s.updateVersioned(ctx, key, old, m, fn)
					return err
				}
				version = m.version // a history inside: moved to the side key
			} else if old, version, err = s.read(ctx, v, key); err != nil {
				return err
			}
			var side sideHistory
			if !isSide {
				if side, err = s.readHistory(ctx, v, key, old); err != nil {
					return err
				}
			}
			doc, write, err := fn(side.with(old))
			if err != nil || !write {
				fnErr = err
				return nil
			}
			// The history first: a record write that fails after it
			// leaves the result to be delivered again, which the
			// history takes once.
			doc, retry, err = s.writeHistory(ctx, v, side, doc)
			if err != nil || retry {
				return err
			}
			if v == 1 {
				_, err = s.client.Logical().WriteWithContext(ctx, s.dataPath(v, key), doc)
				return err
			}
			_, err = s.client.Logical().WriteWithContext(ctx, s.dataPath(v, key), map[string]any{
				"options": map[string]any{"cas": version},
				"data":    doc,
			})
			var re *api.ResponseError
			if errors.As(err, &re) && re.StatusCode == 400 && strings.Contains(strings.Join(re.Errors, " "), casMismatch) {
				retry = true
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		if fnErr != nil {
			return fnErr
		}
		if !retry {
			return nil
		}
		time.Sleep(time.Duration(rand.IntN(10*(i+1))) * time.Millisecond)
	}
	return &Error{Op: "write", Path: s.Location(key), Reason: fmt.Sprintf("gave up after %d concurrent changes", attempts)}
}

// Delete removes the record at key; on KV v2 its metadata and every version
// go too, so a decommissioned host leaves nothing to list.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.do(ctx, "delete", key, func(ctx context.Context, v int) error {
		// The side documents first, so that none outlives its record;
		// a policy that does not cover them (one from before them) must
		// not keep the record.
		for _, k := range []string{status.SideKey(key, status.SideHistory), status.SideKey(key, status.SideLog)} {
			_, err := s.client.Logical().DeleteWithContext(ctx, s.metaPath(v, k))
			var re *api.ResponseError
			if err != nil && !(errors.As(err, &re) && re.StatusCode == 403) {
				return err
			}
		}
		_, err := s.client.Logical().DeleteWithContext(ctx, s.metaPath(v, key))
		return err
	})
}
