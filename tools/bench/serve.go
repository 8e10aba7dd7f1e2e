package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
	// restart is serve's restart with its --state.dir: from the new
	// process's start to /metrics exporting every host again (0: not
	// measured), and whether it said they were the saved snapshot's.
	restart         time.Duration
	restartFromDisk bool
	// savedSnapshot is the snapshot serve saved in its --state.dir, for
	// the memory measurements to start from ("" when it saves none).
	savedSnapshot string
	// Bytes of /metrics (unpacked) per host, by family, at the default
	// settings and with --metrics.host-series=alerting (nil when not
	// measured), and the latter's whole size; from one scrape each.
	familyBytes, alertingFamilyBytes map[string]float64
	alertingBytes                    int
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
	state := freshState(bin, dir)
	args := append([]string{"--vault.address=" + v.addr, "--vault.timeout=" + vaultTimeout.String(), "serve",
		"--web.listen-address=" + listen, "--refresh.interval=1h"}, state...)
	cmd := exec.Command(bin, args...)
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
	wait := func(what string, ok func() bool) error {
		deadline := time.Now().Add(servePatience)
		for !ok() {
			select {
			case <-p.done:
				return fmt.Errorf("backupwatch serve exited while waiting for %s: %v\n%s", what, p.cmd.ProcessState, tail(logPath))
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("backupwatch serve: no %s after %s\n%s", what, servePatience, tail(logPath))
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
	res.familyBytes = familyBytes(body, n)

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
		// Gzipped, as Prometheus asks, and read only as far as the
		// family: unpacking serve's 97 MB and searching it at each look
		// (100,000 hosts) took the bench a second of the same two cores,
		// most of what was measured.
		if err := wait("a nudged failure of "+host, func() bool {
			found, err := scrapeFor(ctx, hc, base, want)
			return err == nil && found
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
	if len(state) > 0 {
		// serve saved its snapshot after its refresh and the nudges, and
		// saves it again as it stops.
		p.stop()
		res.restart, res.restartFromDisk, _, err = measureRestart(ctx, procs, bin, args, cmd.Env, base, n, filepath.Join(dir, "serve-restarted.log"))
		if err != nil {
			return nil, fmt.Errorf("restart: %w", err)
		}
		// What --metrics.host-series=alerting cuts, on the same snapshot:
		// a serve with it started from the one saved, scraped once.
		if strings.Contains(string(help(bin)), "--metrics.host-series") {
			_, _, body, err := measureRestart(ctx, procs, bin, append(slices.Clone(args), "--metrics.host-series=alerting"), cmd.Env, base, n, filepath.Join(dir, "serve-alerting.log"))
			if err != nil {
				return nil, fmt.Errorf("serve --metrics.host-series=alerting: %w", err)
			}
			res.alertingBytes, res.alertingFamilyBytes = len(body), familyBytes(body, n)
		}
		saved := filepath.Join(strings.TrimPrefix(state[0], "--state.dir="), "snapshot.json.gz")
		if _, err := os.Stat(saved); err == nil {
			res.savedSnapshot = saved
		}
	}
	return res, nil
}

// servePatience bounds each wait for serve: a first refresh of 100,000
// hosts took over 5 minutes on the busy 2-core machine.
const servePatience = 15 * time.Minute

// measureRestart starts serve again with args (its --state.dir holding
// what the last one saved) and times it until /metrics exports n hosts,
// long before its first refresh of them is over; it reports whether
// serve said they were the saved snapshot's.
func measureRestart(ctx context.Context, procs *procs, bin string, args, env []string, base string, n int, logPath string) (time.Duration, bool, []byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	logf, err := os.Create(logPath)
	if err != nil {
		return 0, false, nil, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	started := time.Now()
	p, err := procs.start("backupwatch serve", cmd, logPath)
	if err != nil {
		return 0, false, nil, err
	}
	defer p.stop()
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableCompression: true}}
	want := []byte(fmt.Sprintf("\nbackupwatch_hosts %d\n", n))
	deadline := started.Add(servePatience)
	for {
		body, err := scrape(ctx, hc, base, false)
		if err == nil && bytes.Contains(body, want) {
			d := time.Since(started)
			fromDisk, _ := metricValue(body, "backupwatch_snapshot_from_disk")
			return d, fromDisk == 1, body, nil
		}
		select {
		case <-p.done:
			return 0, false, nil, fmt.Errorf("backupwatch serve exited: %v\n%s", p.cmd.ProcessState, tail(logPath))
		case <-ctx.Done():
			return 0, false, nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, false, nil, fmt.Errorf("no %d hosts in /metrics after %s\n%s", n, servePatience, tail(logPath))
		}
	}
}

// familyBytes is the bytes of body's sample lines per host, by family
// (the metric name, a job's twin and the HELP and TYPE lines left out).
func familyBytes(body []byte, hosts int) map[string]float64 {
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		out[strings.TrimSpace(name)] += float64(len(line))
	}
	for k := range out {
		out[k] /= float64(hosts)
	}
	return out
}

// help is bin's serve --help.
func help(bin string) []byte {
	out, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	return out
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

// scrapeFor fetches /metrics with gzip and reports whether it holds the
// line want, reading it as it comes only until want's family is over.
func scrapeFor(ctx context.Context, hc *http.Client, base, want string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return false, err
	}
	family, _, _ := strings.Cut(want, "{")
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == want:
			return true, nil
		case strings.HasPrefix(line, family+"{"):
			in = true
		case in && !strings.HasPrefix(line, "#"):
			return false, nil // the family is over
		}
	}
	return false, sc.Err()
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

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}
