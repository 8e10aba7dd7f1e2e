package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

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

// memResult is serve's peak memory while k clients scrape /metrics back
// to back and refreshes run beside them.
type memResult struct {
	scrapers   int
	seeded     bool  // serve started from a saved snapshot, measured over one refresh
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
//
// With seed (a snapshot.json.gz an earlier serve of the same fleet saved),
// serve starts from it, as after a restart with --state.dir, and the
// scrapers start at once and run until one refresh has completed: that
// refresh already holds the previous snapshot beside the new one, as every
// later refresh does, and at 100,000 hosts a refresh of the busy machine
// took ten minutes, so three for each number of scrapers were over an
// hour.
func measureMemory(ctx context.Context, procs *procs, bin string, v *vault, root bool, n, k int, interval time.Duration, dir, seed string) (*memResult, error) {
	token, err := v.readerToken(ctx, root)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := "127.0.0.1:" + port
	state := freshState(bin, dir)
	refreshes := 2.0
	if seed != "" && len(state) > 0 {
		data, err := os.ReadFile(seed)
		if err == nil {
			err = os.WriteFile(filepath.Join(strings.TrimPrefix(state[0], "--state.dir="), filepath.Base(seed)), data, 0o600)
		}
		if err != nil {
			return nil, fmt.Errorf("seeding serve's --state.dir: %w", err)
		}
		refreshes = 1
	}
	cmd := exec.Command(bin, append([]string{"--vault.address=" + v.addr, "--vault.timeout=" + vaultTimeout.String(), "serve",
		"--web.listen-address=" + listen, "--refresh.interval=" + interval.String()}, state...)...)
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

	res := &memResult{scrapers: k, seeded: refreshes == 1}
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
				// Scraper 0 watches the refreshes: two more (one when
				// seeded), then stop.
				plain, err := gunzipBody(body)
				if err != nil {
					end(err)
					return
				}
				if r, ok := metricValue(plain, "backupwatch_refreshes_total"); ok && r >= first+refreshes {
					mu.Lock()
					res.refreshes, last = int(r-first), plain
					mu.Unlock()
					end(nil)
					return
				}
				if time.Now().After(deadline.Add(patience)) {
					end(fmt.Errorf("fewer than %.0f refreshes completed in %s of scraping", refreshes, patience))
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
