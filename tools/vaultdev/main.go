// Command vaultdev runs a small but real Vault server for backupwatch's tests:
// Vault's core and HTTP API with only the KV secrets engine and AppRole auth.
// It initializes the storage on first start (one unseal key), records the
// unseal key and root token in init.json, unseals, and prints
// "vaultdev ready addr=http://HOST:PORT" on stdout once it serves.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	"github.com/hashicorp/vault/builtin/credential/approle"
	"github.com/hashicorp/vault/helper/namespace"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/internalshared/configutil"
	"github.com/hashicorp/vault/sdk/helper/consts"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/physical"
	"github.com/hashicorp/vault/sdk/physical/file"
	"github.com/hashicorp/vault/sdk/physical/inmem"
	"github.com/hashicorp/vault/vault"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8200", "address to serve plain HTTP on")
	dataDir := flag.String("data-dir", "", "directory for file storage (data survives restarts); empty means in-memory storage")
	initFile := flag.String("init-file", "", "where init.json is kept (default DATA-DIR/init.json; required without -data-dir)")
	flag.Parse()
	if *initFile == "" {
		if *dataDir == "" {
			fmt.Fprintln(os.Stderr, "vaultdev: -init-file is required without -data-dir")
			os.Exit(2)
		}
		*initFile = filepath.Join(*dataDir, "init.json")
	}
	if err := run(*listen, *dataDir, *initFile); err != nil {
		fmt.Fprintln(os.Stderr, "vaultdev:", err)
		os.Exit(1)
	}
}

// registry is the builtin plugin registry: just the backends vaultdev has.
type registry map[consts.PluginType]map[string]logical.Factory

var builtins = registry{
	consts.PluginTypeSecrets:    {"kv": kv.Factory},
	consts.PluginTypeCredential: {"approle": approle.Factory},
}

func (r registry) Contains(name string, t consts.PluginType) bool {
	_, ok := r[t][name]
	return ok
}

func (r registry) Get(name string, t consts.PluginType) (func() (interface{}, error), bool) {
	f, ok := r[t][name]
	if !ok {
		return nil, false
	}
	return func() (interface{}, error) { return f, nil }, true
}

func (r registry) Keys(t consts.PluginType) []string { return slices.Sorted(maps.Keys(r[t])) }

func (r registry) DeprecationStatus(name string, t consts.PluginType) (consts.DeprecationStatus, bool) {
	if r.Contains(name, t) {
		return consts.Supported, true
	}
	return consts.Unknown, false
}

func (registry) IsBuiltinEntPlugin(string, consts.PluginType) bool { return false }

// initData is the content of init.json.
type initData struct {
	UnsealKey string `json:"unseal_key"` // hex, as accepted by sys/unseal
	RootToken string `json:"root_token"`
}

func run(listen, dataDir, initFile string) error {
	logger := hclog.New(&hclog.LoggerOptions{Name: "vaultdev", Output: os.Stderr, Level: hclog.Info})

	var backend physical.Backend
	var err error
	if dataDir == "" {
		backend, err = inmem.NewInmem(nil, logger)
	} else {
		backend, err = file.NewFileBackend(map[string]string{"path": dataDir}, logger)
	}
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}

	core, err := vault.NewCore(&vault.CoreConfig{
		Physical:           backend,
		Logger:             logger,
		DisableMlock:       true,
		BuiltinRegistry:    builtins,
		LogicalBackends:    builtins[consts.PluginTypeSecrets],
		CredentialBackends: builtins[consts.PluginTypeCredential],
	})
	if err != nil {
		return fmt.Errorf("creating core: %w", err)
	}
	return errors.Join(serve(core, listen, initFile, logger), core.Shutdown())
}

// serve initializes and unseals core, serves its HTTP API on listen and
// returns on SIGTERM or SIGINT after closing the listener.
func serve(core *vault.Core, listen, initFile string, logger hclog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	keys, err := initialize(core, initFile)
	if err != nil {
		return err
	}
	key, err := hex.DecodeString(keys.UnsealKey)
	if err != nil {
		return fmt.Errorf("%s: unseal_key: %w", initFile, err)
	}
	if unsealed, err := core.Unseal(key); err != nil {
		return fmt.Errorf("unsealing: %w", err)
	} else if !unsealed {
		return errors.New("unsealing: still sealed after the one key")
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{
			Core:           core,
			ListenerConfig: &configutil.Listener{Type: "tcp", Address: ln.Addr().String()},
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("vaultdev ready addr=http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// initialize initializes the storage with a single unseal key and writes
// initFile, or, if the storage is already initialized, reads initFile.
func initialize(core *vault.Core, initFile string) (initData, error) {
	var keys initData
	ctx := namespace.RootContext(context.Background())
	done, err := core.Initialized(ctx)
	if err != nil {
		return keys, fmt.Errorf("checking initialization: %w", err)
	}
	if done {
		b, err := os.ReadFile(initFile)
		if err != nil {
			return keys, fmt.Errorf("storage is initialized but its keys are missing: %w", err)
		}
		if err := json.Unmarshal(b, &keys); err != nil {
			return keys, fmt.Errorf("%s: %w", initFile, err)
		}
		return keys, nil
	}

	res, err := core.Initialize(ctx, &vault.InitParams{
		BarrierConfig: &vault.SealConfig{SecretShares: 1, SecretThreshold: 1},
	})
	if err != nil {
		return keys, fmt.Errorf("initializing: %w", err)
	}
	if len(res.SecretShares) != 1 {
		return keys, errors.New("initializing: expected exactly one unseal key")
	}
	keys = initData{UnsealKey: hex.EncodeToString(res.SecretShares[0]), RootToken: res.RootToken}
	b, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return keys, err
	}
	return keys, writeFileAtomic(initFile, append(b, '\n'))
}

// writeFileAtomic writes data to a temporary file beside path, with mode
// 0600, and renames it into place.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".init-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
