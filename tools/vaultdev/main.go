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
	"github.com/hashicorp/vault/physical/raft"
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
	var rc raftConfig
	flag.StringVar(&rc.nodeID, "raft-node-id", "", "use integrated Raft storage in -data-dir as this node (HA: one active node, the others standby)")
	flag.StringVar(&rc.clusterListen, "cluster-listen", "127.0.0.1:0", "with -raft-node-id: address of the cluster port (Raft and request forwarding, TLS)")
	flag.StringVar(&rc.join, "raft-join", "", "with -raft-node-id: API address of a node of the cluster to join on first start (its init.json is -init-file)")
	flag.Parse()
	if rc.nodeID != "" && *dataDir == "" {
		fmt.Fprintln(os.Stderr, "vaultdev: -raft-node-id needs -data-dir")
		os.Exit(2)
	}
	if rc.join != "" && rc.nodeID == "" {
		fmt.Fprintln(os.Stderr, "vaultdev: -raft-join needs -raft-node-id")
		os.Exit(2)
	}
	if *initFile == "" {
		if *dataDir == "" {
			fmt.Fprintln(os.Stderr, "vaultdev: -init-file is required without -data-dir")
			os.Exit(2)
		}
		*initFile = filepath.Join(*dataDir, "init.json")
	}
	if err := run(*listen, *dataDir, *initFile, rc); err != nil {
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

func run(listen, dataDir, initFile string, rc raftConfig) error {
	logger := hclog.New(&hclog.LoggerOptions{Name: "vaultdev", Output: os.Stderr, Level: hclog.Info})

	// The API listener comes first: a Raft node advertises its address.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	apiAddr := "http://" + ln.Addr().String()

	cc := &vault.CoreConfig{
		Logger:             logger,
		DisableMlock:       true,
		BuiltinRegistry:    builtins,
		LogicalBackends:    builtins[consts.PluginTypeSecrets],
		CredentialBackends: builtins[consts.PluginTypeCredential],
	}
	var clusterAddr *net.TCPAddr
	switch {
	case rc.nodeID != "":
		backend, err := raft.NewRaftBackend(map[string]string{
			"path":    dataDir,
			"node_id": rc.nodeID,
			// Tests kill the active node: elect a new one in about a
			// second rather than Vault's production default (5x).
			"performance_multiplier": "1",
		}, logger.Named("raft"))
		if err != nil {
			return fmt.Errorf("raft storage: %w", err)
		}
		if clusterAddr, err = freeTCPAddr(rc.clusterListen); err != nil {
			return fmt.Errorf("cluster listener: %w", err)
		}
		cc.Physical = backend
		cc.HAPhysical = backend.(physical.HABackend)
		cc.RedirectAddr = apiAddr
		cc.ClusterAddr = "https://" + clusterAddr.String()
	case dataDir == "":
		if cc.Physical, err = inmem.NewInmem(nil, logger); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	default:
		if cc.Physical, err = file.NewFileBackend(map[string]string{"path": dataDir}, logger); err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}

	core, err := vault.NewCore(cc)
	if err != nil {
		return fmt.Errorf("creating core: %w", err)
	}
	handler := vaulthttp.Handler.Handler(&vault.HandlerProperties{
		Core:           core,
		ListenerConfig: &configutil.Listener{Type: "tcp", Address: ln.Addr().String()},
	})
	if clusterAddr != nil {
		// As `vault server` does: before the first unseal.
		core.SetClusterListenerAddrs([]*net.TCPAddr{clusterAddr})
		core.SetClusterHandler(handler)
	}
	return errors.Join(serve(core, ln, handler, initFile, rc, logger), core.Shutdown())
}

// raftConfig is the integrated storage part of the command line.
type raftConfig struct {
	nodeID        string
	clusterListen string
	join          string
}

// freeTCPAddr resolves addr, picking a free port for port 0.
func freeTCPAddr(addr string) (*net.TCPAddr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	a := l.Addr().(*net.TCPAddr)
	return a, l.Close()
}

// serve initializes (or joins) and unseals core, serves its HTTP API on ln
// and returns on SIGTERM or SIGINT after closing the listener.
func serve(core *vault.Core, ln net.Listener, handler http.Handler, initFile string, rc raftConfig, logger hclog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	if rc.join != "" {
		// A joining node answers the leader's challenge over the API only
		// after it is unsealed, but serving early costs nothing.
		go func() { served <- srv.Serve(ln) }()
	}

	var keys initData
	var err error
	if rc.join != "" {
		keys, err = join(ctx, core, rc.join, initFile)
	} else {
		keys, err = initialize(core, initFile)
	}
	if err != nil {
		return err
	}
	key, err := hex.DecodeString(keys.UnsealKey)
	if err != nil {
		return fmt.Errorf("%s: unseal_key: %w", initFile, err)
	}
	unsealed, err := core.Unseal(key)
	if err != nil {
		return fmt.Errorf("unsealing: %w", err)
	}
	if rc.nodeID != "" {
		// A Raft node unseals in the background once its storage has the
		// keyring (streamed from the leader when it has just joined).
		if err := waitForLeader(ctx, core); err != nil {
			return err
		}
	} else if !unsealed {
		return errors.New("unsealing: still sealed after the one key")
	}
	if rc.join == "" {
		go func() { served <- srv.Serve(ln) }()
	}
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

// join starts joining the Raft cluster at leaderAddr, unless this node's
// storage already belongs to one (a restart), and returns the cluster's
// keys from initFile (written by the node that initialized it).
func join(ctx context.Context, core *vault.Core, leaderAddr, initFile string) (initData, error) {
	var keys initData
	b, err := os.ReadFile(initFile)
	if err != nil {
		return keys, fmt.Errorf("joining needs the cluster's keys: %w", err)
	}
	if err := json.Unmarshal(b, &keys); err != nil {
		return keys, fmt.Errorf("%s: %w", initFile, err)
	}
	ctx = namespace.RootContext(ctx)
	done, err := core.InitializedLocally(ctx)
	if err != nil {
		return keys, fmt.Errorf("checking initialization: %w", err)
	}
	if done {
		return keys, nil
	}
	if _, err := core.JoinRaftCluster(ctx, []*raft.LeaderJoinInfo{{LeaderAPIAddr: leaderAddr}}, false); err != nil {
		return keys, fmt.Errorf("joining %s: %w", leaderAddr, err)
	}
	return keys, nil
}

// waitForLeader waits until this node is unsealed and is active or knows
// the active node, so that it can serve or forward requests.
func waitForLeader(ctx context.Context, core *vault.Core) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		isLeader, addr, _, err := core.Leader()
		if !core.Sealed() && err == nil && (isLeader || addr != "") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no active node after 60s (leader=%v addr=%q err=%v)", isLeader, addr, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
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
