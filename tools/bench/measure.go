package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

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
	for _, h := range snap.Hosts {
		if h.Status == status.Failed {
			failed++
		}
	}
	switch {
	case len(snap.Hosts) != len(f.hosts):
		return fmt.Errorf("backupwatch read %d hosts, want %d", len(snap.Hosts), len(f.hosts))
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

// serveResult is what the bench measured of `backupwatch serve`.
type serveResult struct {
	firstRefresh time.Duration   // from start to the first complete refresh
	scrapes      []time.Duration // gzip, as Prometheus asks by default
	plain        []time.Duration // uncompressed, for comparison
	bodyBytes    int             // uncompressed
	gzipBytes    int
	// Nudged writes: from `backupwatch record --exporter.url` starting to
	// the failure being in /metrics, with serve's refresh an hour away.
	nudgeLatency []time.Duration
	nudgeReads   float64 // backupwatch_nudge_reads_total after them
	// Series per host, by the host's status, from one scrape.
	seriesPerHost map[string]int
}

// measureServe starts `backupwatch serve` against the filled Vault, waits
// for a complete refresh of n hosts and times scrapes of /metrics.
// during is called last, serve still running, with its host:port.
func measureServe(ctx context.Context, procs *procs, bin string, v *vault, root bool, n, scrapes int, dir string, hosts []string, during func(target string)) (*serveResult, error) {
	token, err := v.readerToken(ctx, root)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := "127.0.0.1:" + port
	cmd := exec.Command(bin, append([]string{"--vault.address=" + v.addr, "--vault.timeout=" + vaultTimeout.String(), "serve",
		"--web.listen-address=" + listen, "--refresh.interval=1h"}, freshState(bin, dir)...)...)
	cmd.Env = append(cleanEnv(), "VAULT_TOKEN="+token)
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	started := time.Now()
	p, err := procs.start("backupwatch serve", cmd, logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w (run `make build`)", bin, err)
	}
	defer p.stop()

	// The bench asks for gzip itself and keeps the body as it comes.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	base := "http://" + listen
	res := &serveResult{}
	deadline := time.Now().Add(5 * time.Minute)
	wait := func(what string, ok func() bool) error {
		for !ok() {
			select {
			case <-p.done:
				return fmt.Errorf("backupwatch serve exited while waiting for %s: %v\n%s", what, p.cmd.ProcessState, tail(logPath))
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("backupwatch serve: no %s after 5 minutes\n%s", what, tail(logPath))
			}
		}
		return nil
	}
	if err := wait("/-/ready", func() bool {
		resp, err := hc.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil {
		return nil, err
	}
	want := fmt.Sprintf("backupwatch_hosts %d", n)
	if err := wait("complete refresh ("+want+")", func() bool {
		body, err := scrape(ctx, hc, base, false)
		return err == nil && refreshed(body, want)
	}); err != nil {
		return nil, err
	}
	res.firstRefresh = time.Since(started)

	// Gzipped and plain scrapes in turns, the first of each a warm-up. The
	// gzipped body is timed as it arrives, not unpacked: what the server
	// costs, not what the bench's gunzip does.
	for i := 0; i <= scrapes; i++ {
		for _, gz := range []bool{true, false} {
			t0 := time.Now()
			body, err := scrape(ctx, hc, base, gz)
			d := time.Since(t0)
			if err != nil {
				return nil, err
			}
			if i == 0 {
				continue
			}
			if gz {
				res.scrapes, res.gzipBytes = append(res.scrapes, d), len(body)
			} else {
				res.plain, res.bodyBytes = append(res.plain, d), len(body)
			}
		}
	}

	// Series per host: every line naming the host, for a host of each
	// status the fleet has.
	body, err := scrape(ctx, hc, base, false)
	if err != nil {
		return nil, err
	}
	res.seriesPerHost = seriesPerHost(string(body), hosts)

	// Write-to-metric latency through a nudge: a host records a failure
	// with --exporter.url, as run and record do on every host.
	for i := range 5 {
		host := hosts[(i*7919)%len(hosts)]
		want := fmt.Sprintf(`backup_status{host=%q,status="failed"} 1`, host)
		rec := exec.CommandContext(ctx, bin, "--vault.address="+v.addr, "--exporter.url="+base, "record",
			"--host="+host, "--status=failed", "--exit-code=1", fmt.Sprintf("--message=bench nudge %d", i))
		rec.Env = append(cleanEnv(), "VAULT_TOKEN="+v.rootToken, "BACKUPWATCH_SPOOL_DIR="+filepath.Join(dir, "spool"))
		t0 := time.Now()
		if out, err := rec.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("backupwatch record: %v\n%s", err, out)
		}
		// Gzipped, as Prometheus asks: unpacking 90 MB on the server at
		// each look (100,000 hosts) would be most of what is measured.
		if err := wait("a nudged failure of "+host, func() bool {
			body, err := scrape(ctx, hc, base, true)
			if err == nil {
				body, err = gunzipBody(body)
			}
			return err == nil && strings.Contains(string(body), want)
		}); err != nil {
			return nil, err
		}
		res.nudgeLatency = append(res.nudgeLatency, time.Since(t0))
	}
	body, err = scrape(ctx, hc, base, false)
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "backupwatch_nudge_reads_total "); ok {
			res.nudgeReads, _ = strconv.ParseFloat(v, 64)
		}
	}
	if during != nil {
		during(listen)
	}
	return res, nil
}

// seriesPerHost counts the series naming one host of each status.
func seriesPerHost(body string, hosts []string) map[string]int {
	out := map[string]int{}
	statusRE := regexp.MustCompile(`(?m)^backup_status\{host="([^"]+)",status="([a-z]+)"\} 1$`)
	byStatus := map[string]string{}
	for _, m := range statusRE.FindAllStringSubmatch(body, -1) {
		if _, ok := byStatus[m[2]]; !ok {
			byStatus[m[2]] = m[1]
		}
	}
	for st, h := range byStatus {
		needle := `host="` + h + `"`
		for line := range strings.Lines(body) {
			if !strings.HasPrefix(line, "#") && strings.Contains(line, needle) {
				out[st]++
			}
		}
	}
	return out
}

// scrape fetches /metrics in the text format, gzipped or not, and returns
// the body as it came over the wire.
func scrape(ctx context.Context, hc *http.Client, base string, gzip bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return body, nil
}

// refreshed reports whether a scrape shows a complete refresh: the
// expected host count and a successful refresh on record.
func refreshed(body []byte, hostsLine string) bool {
	hosts, success := false, false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == hostsLine {
			hosts = true
		}
		if v, ok := strings.CutPrefix(line, "backupwatch_last_refresh_success_timestamp_seconds "); ok {
			f, err := strconv.ParseFloat(v, 64)
			success = err == nil && f > 0
		}
	}
	return hosts && success
}

// freshState is serve's --state.dir flag: a directory of its own, empty,
// so that each serve measured starts without a saved snapshot (and none
// lands in /var/lib); nothing for a serve without the flag.
func freshState(bin, dir string) []string {
	help, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	if !strings.Contains(string(help), "--state.dir") {
		return nil
	}
	d, err := os.MkdirTemp(dir, "state-")
	if err != nil {
		return nil
	}
	return []string{"--state.dir=" + d}
}

// peakRSS reads VmHWM, the peak resident set size, of a process.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/PID/status")
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// memResult is serve's peak memory while k clients scrape /metrics back
// to back and refreshes run beside them.
type memResult struct {
	scrapers   int
	peakRSS    int64 // bytes, VmHWM over the whole run, start included
	scrapes    int   // answered 200
	refused    int   // answered 503 (busy)
	latencies  []time.Duration
	refreshes  int           // complete refreshes while scraping
	refreshDur time.Duration // the last one's, as serve reports it
	failures   float64       // refreshes that failed while scraping (backupwatch_refresh_failures_total)
}

// measureMemory starts a fresh `backupwatch serve` refreshing every
// interval, waits for its first complete refresh of n hosts, then has k
// clients scrape /metrics with gzip back to back until two more refreshes
// have completed (so that encoding new snapshots overlaps the scrapes),
// and reads the process's peak resident memory.
func measureMemory(ctx context.Context, procs *procs, bin string, v *vault, root bool, n, k int, interval time.Duration, dir string) (*memResult, error) {
	token, err := v.readerToken(ctx, root)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := "127.0.0.1:" + port
	cmd := exec.Command(bin, append([]string{"--vault.address=" + v.addr, "--vault.timeout=" + vaultTimeout.String(), "serve",
		"--web.listen-address=" + listen, "--refresh.interval=" + interval.String()}, freshState(bin, dir)...)...)
	cmd.Env = append(cleanEnv(), "VAULT_TOKEN="+token)
	logPath := filepath.Join(dir, fmt.Sprintf("serve-%d-scrapers.log", k))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := procs.start("backupwatch serve", cmd, logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w (run `make build`)", bin, err)
	}
	defer p.stop()

	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: k}}
	base := "http://" + listen
	want := fmt.Sprintf("backupwatch_hosts %d", n)
	// Each phase may take a few refreshes, and at least 5 minutes.
	patience := max(5*time.Minute, 3*interval)
	deadline := time.Now().Add(patience)
	var first, failedBefore float64
	for {
		body, err := scrape(ctx, hc, base, false)
		if err == nil && refreshed(body, want) {
			first, _ = metricValue(body, "backupwatch_refreshes_total")
			failedBefore, _ = metricValue(body, "backupwatch_refresh_failures_total")
			break
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("backupwatch serve exited while waiting for a complete refresh: %v\n%s", p.cmd.ProcessState, tail(logPath))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("backupwatch serve: no complete refresh after %s\n%s", patience, tail(logPath))
		}
	}

	res := &memResult{scrapers: k}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		stopOnce sync.Once
		failure  error
		last     []byte // the latest body scraper 0 read, unpacked
	)
	end := func(err error) {
		stopOnce.Do(func() {
			failure = err
			close(stop)
		})
	}
	for i := range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				body, code, err := scrapeStatus(ctx, hc, base)
				d := time.Since(t0)
				if err != nil {
					end(err)
					return
				}
				mu.Lock()
				switch code {
				case http.StatusOK:
					res.scrapes++
					res.latencies = append(res.latencies, d)
				case http.StatusServiceUnavailable:
					res.refused++
				default:
					mu.Unlock()
					end(fmt.Errorf("GET /metrics: %d", code))
					return
				}
				mu.Unlock()
				if i != 0 || code != http.StatusOK {
					continue
				}
				// Scraper 0 watches the refreshes: two more, then stop.
				plain, err := gunzipBody(body)
				if err != nil {
					end(err)
					return
				}
				if r, ok := metricValue(plain, "backupwatch_refreshes_total"); ok && r >= first+2 {
					mu.Lock()
					res.refreshes, last = int(r-first), plain
					mu.Unlock()
					end(nil)
					return
				}
				if time.Now().After(deadline.Add(patience)) {
					end(fmt.Errorf("fewer than two refreshes completed in %s of scraping", patience))
					return
				}
			}
		}()
	}
	select {
	case <-stop:
	case <-ctx.Done():
		end(ctx.Err())
	case <-p.done:
		end(fmt.Errorf("backupwatch serve exited while being scraped: %v\n%s", p.cmd.ProcessState, tail(logPath)))
	}
	wg.Wait()
	if failure != nil {
		return nil, failure
	}
	if d, ok := metricValue(last, "backupwatch_refresh_duration_seconds"); ok {
		res.refreshDur = time.Duration(d * float64(time.Second))
	}
	failed, _ := metricValue(last, "backupwatch_refresh_failures_total")
	res.failures = failed - failedBefore
	res.peakRSS, err = peakRSS(p.cmd.Process.Pid)
	return res, err
}

// scrapeStatus fetches /metrics with gzip, as Prometheus does, and returns
// the body as it came and the status code.
func scrapeStatus(ctx context.Context, hc *http.Client, base string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10") // Prometheus's default
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp.StatusCode, err
}

func gunzipBody(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// metricValue is the value of the series without labels called name.
func metricValue(body []byte, name string) (float64, bool) {
	var line []byte
	if prefix := []byte(name + " "); bytes.HasPrefix(body, prefix) {
		line = body[len(prefix):]
	} else if i := bytes.Index(body, []byte("\n"+name+" ")); i >= 0 {
		line = body[i+len(prefix)+1:]
	} else {
		return 0, false
	}
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	v, err := strconv.ParseFloat(string(line), 64)
	return v, err == nil
}
