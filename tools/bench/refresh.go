package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// reader is one token's pair of contestants.
type reader struct {
	token string
	bare  *bareLoop
	bw    *refresher
}

type refreshResult struct {
	token    string
	bare, bw []time.Duration
	// CPU time the bench process spent per refresh: the client's own cost,
	// which the machine's other load disturbs less than the wall clock.
	bareCPU, bwCPU []time.Duration
}

// timeRefreshes times the bare loop and backupwatch in turns, after one
// untimed warm-up of each, alternating which goes first so that neither
// always runs on the heels of the other.
func timeRefreshes(ctx context.Context, r reader, f *fleetData, runs int, rr *refreshResult) error {
	want := len(f.hosts) + 1 // and the restore test
	type sample struct{ wall, cpu time.Duration }
	measure := func(f func() error) (sample, error) {
		c0 := cpuTime()
		d, err := timed(f)
		return sample{d, cpuTime() - c0}, err
	}
	bare := func() (sample, error) {
		return measure(func() error {
			got, err := r.bare.run(ctx)
			if err == nil && got != want {
				err = fmt.Errorf("bare loop read %d records, want %d", got, want)
			}
			return err
		})
	}
	bw := func() (sample, error) {
		return measure(func() error { return r.bw.run(ctx, f) })
	}
	for i := 0; i <= runs; i++ {
		first, second := bare, bw
		if i%2 == 1 {
			first, second = bw, bare
		}
		s1, err := first()
		if err != nil {
			return err
		}
		s2, err := second()
		if err != nil {
			return err
		}
		if i == 0 {
			continue
		}
		if i%2 == 1 {
			s1, s2 = s2, s1
		}
		rr.bare, rr.bareCPU = append(rr.bare, s1.wall), append(rr.bareCPU, s1.cpu)
		rr.bw, rr.bwCPU = append(rr.bw, s2.wall), append(rr.bwCPU, s2.cpu)
	}
	return nil
}

// timed runs f after a garbage collection, so that one run's garbage is
// not collected on the next one's time.
func timed(f func() error) (time.Duration, error) {
	runtime.GC()
	t0 := time.Now()
	err := f()
	return time.Since(t0), err
}

// cpuTime is the user and system CPU time the bench process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vaultTimeout bounds each request to Vault, the bench's own and serve's
// (--vault.timeout): listing 100,000 keys took over 10 s, serve's default,
// on the busy 2-core machine, and failed a whole run of the bench.
const vaultTimeout = time.Minute

// bareLoop is the limit: one LIST, then one GET per key with a fixed
// number of workers over keep-alive connections, decoding each answer and
// nothing else.
type bareLoop struct {
	addr    string
	token   string
	workers int
	hc      *http.Client
}

func newBareLoop(addr, token string, workers int) *bareLoop {
	return &bareLoop{addr: addr, token: token, workers: workers, hc: &http.Client{
		Timeout:   vaultTimeout,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers},
	}}
}

func (b *bareLoop) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", b.addr+"/v1/"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", b.token)
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	io.Copy(io.Discard, resp.Body) // to EOF, so the connection is reused
	return nil
}

// run reads every record and returns how many it read.
func (b *bareLoop) run(ctx context.Context) (int, error) {
	var list struct {
		Data struct {
			Keys []string `json:"keys"`
		} `json:"data"`
	}
	if err := b.get(ctx, mount+"/metadata/"+prefix+"?list=true", &list); err != nil {
		return 0, err
	}
	keys := list.Data.Keys
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		read  int
		first error
	)
	work := make(chan string)
	for range b.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				var rec struct {
					Data struct {
						Data map[string]any `json:"data"`
					} `json:"data"`
				}
				err := b.get(ctx, mount+"/data/"+prefix+"/"+url.PathEscape(k), &rec)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil && rec.Data.Data != nil {
					read++
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	return read, first
}

// refresher is backupwatch's refresh as the exporter runs it: one store
// with as many keep-alive connections as workers, logged in once, and
// fleet.Load for every refresh, given the previous snapshot.
type refresher struct {
	store   *vaultkv.Store
	workers int
	prev    *fleet.Snapshot // the exporter hands each refresh the last one
}

func newRefresher(ctx context.Context, v *vault, workers int, root bool) (*refresher, error) {
	cfg := vaultkv.Config{
		Address:      v.addr,
		RoleIDFile:   v.roleIDFile,
		SecretIDFile: v.secretIDFile,
		Mount:        mount,
		Prefix:       prefix,
		Timeout:      vaultTimeout,
		MaxConns:     workers,
	}
	if root {
		cfg.RoleIDFile, cfg.SecretIDFile, cfg.Token = "", "", v.rootToken
	}
	store, err := vaultkv.New(cfg)
	if err != nil {
		return nil, err
	}
	// The login and KV version detection a long-running exporter does once.
	if err := store.Ping(ctx); err != nil {
		return nil, err
	}
	return &refresher{store: store, workers: workers}, nil
}

func (r *refresher) run(ctx context.Context, f *fleetData) error {
	snap := fleet.Load(ctx, r.store, fleet.Options{Workers: r.workers}, r.prev)
	r.prev = snap
	if snap.Err != nil {
		return snap.Err
	}
	failed := 0
	for _, h := range snap.Hosts.All() {
		if h.Status == status.Failed {
			failed++
		}
	}
	switch {
	case snap.Hosts.Len() != len(f.hosts):
		return fmt.Errorf("backupwatch read %d hosts, want %d", snap.Hosts.Len(), len(f.hosts))
	case failed != f.failed:
		return fmt.Errorf("backupwatch found %d failed hosts, want %d", failed, f.failed)
	case snap.RestoreTest == nil:
		return errors.New("backupwatch found no restore test")
	}
	return nil
}

// runScript runs the runbook replay over every host and checks its output.
func runScript(ctx context.Context, script string, v *vault, f *fleetData, dir string) error {
	out := filepath.Join(dir, "backup.prom")
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, f.hosts...)...)
	cmd.Env = append(cleanEnv(),
		"VAULT_ADDR="+v.addr,
		"ROLE_ID_FILE="+v.roleIDFile,
		"SECRET_ID_FILE="+v.secretIDFile,
		"METRICS_FILE="+out,
	)
	// Its own process group, so that a cancelled run takes its curls and
	// jqs with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", script, err, bytes.TrimSpace(stderr.Bytes()))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	lines := strings.Count(string(b), "\n")
	failed := strings.Count(string(b), `status="failed"} 1`)
	if want := 2*len(f.hosts) + 1; lines != want || failed != f.failed {
		return fmt.Errorf("%s wrote %d lines with %d failed hosts, want %d lines with %d", script, lines, failed, want, f.failed)
	}
	return nil
}

// cleanEnv is the bench's environment without Vault's variables, so that
// nothing outside the bench decides where a child goes or who it is.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "BACKUPWATCH_") {
			env = append(env, kv)
		}
	}
	return env
}
