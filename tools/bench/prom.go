package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// promResult is what one real Prometheus paid for scraping serve.
type promResult struct {
	bin, version string
	err          error // it could not be measured: why
	scrapes      int
	interval     time.Duration
	durMedian    float64 // scrape_duration_seconds, median and max over the scrapes
	durMax       float64
	samples      float64 // scrape_samples_scraped, the last scrape's
	headSeries   float64 // prometheus_tsdb_head_series after them
	peakRSS      int64   // VmHWM, bytes
}

// promInterval is the scrape interval (and timeout) of the measuring
// Prometheus: 10 s up to 10,000 hosts, 30 s beyond (a scrape of 100,000
// hosts takes seconds on a busy machine, more than the 10 s default timeout
// would allow).
func promInterval(n int) time.Duration {
	if n > 10000 {
		return 30 * time.Second
	}
	return 10 * time.Second
}

// measurePrometheus runs the Prometheus at bin scraping serve (target,
// host:port) until it has scraped it scrapes times, and reads what that
// cost it: its own figures for the scrapes, its head series, its peak
// memory. A missing binary is a result saying so, not a failure.
func measurePrometheus(ctx context.Context, procs *procs, bin, target string, n, scrapes int, dir string) *promResult {
	res := &promResult{bin: bin, scrapes: scrapes, interval: promInterval(n)}
	if _, err := os.Stat(bin); err != nil {
		res.err = fmt.Errorf("not found (%v)", err)
		return res
	}
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	res.version, _, _ = strings.Cut(string(out), "\n")
	res.version = strings.TrimSpace(strings.TrimPrefix(res.version, "prometheus, "))

	pdir, err := os.MkdirTemp(dir, "prometheus-")
	if err != nil {
		res.err = err
		return res
	}
	defer os.RemoveAll(pdir)
	conf := filepath.Join(pdir, "prometheus.yml")
	iv := fmt.Sprintf("%ds", int(res.interval.Seconds()))
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
scrape_configs:
  - job_name: backupwatch
    static_configs:
      - targets: ['%[2]s']
`, iv, target)), 0o644); err != nil {
		res.err = err
		return res
	}
	port, err := freePort()
	if err != nil {
		res.err = err
		return res
	}
	base := "http://127.0.0.1:" + port
	logPath := filepath.Join(pdir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		res.err = err
		return res
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(pdir, "data"),
		"--web.listen-address=127.0.0.1:"+port)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := procs.start("prometheus", cmd, logPath)
	if err != nil {
		res.err = err
		return res
	}
	defer p.stop()

	query := func(q string) (float64, error) {
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return 0, err
		}
		if len(r.Data.Result) == 0 {
			return 0, fmt.Errorf("%s: no result", q)
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		return strconv.ParseFloat(s, 64)
	}
	deadline := time.Now().Add(time.Duration(scrapes+6) * res.interval)
	for {
		if k, err := query(`count_over_time(scrape_samples_scraped{job="backupwatch"}[1h])`); err == nil && int(k) >= scrapes {
			break
		}
		select {
		case <-p.done:
			res.err = fmt.Errorf("exited: %s", tail(logPath))
			return res
		case <-ctx.Done():
			res.err = ctx.Err()
			return res
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			res.err = fmt.Errorf("fewer than %d scrapes after %s", scrapes, time.Duration(scrapes+6)*res.interval)
			return res
		}
	}
	for _, m := range []struct {
		q   string
		out *float64
	}{
		{`quantile_over_time(0.5, scrape_duration_seconds{job="backupwatch"}[1h])`, &res.durMedian},
		{`max_over_time(scrape_duration_seconds{job="backupwatch"}[1h])`, &res.durMax},
		{`scrape_samples_scraped{job="backupwatch"}`, &res.samples},
	} {
		if *m.out, err = query(m.q); err != nil {
			res.err = err
			return res
		}
	}
	if res.headSeries, err = selfMetric(base, "prometheus_tsdb_head_series"); err != nil {
		res.err = err
		return res
	}
	res.peakRSS, res.err = peakRSS(cmd.Process.Pid)
	return res
}

// selfMetric reads one unlabelled value from a Prometheus' own /metrics.
func selfMetric(base, name string) (float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if v, ok := metricValue(body, name); ok {
		return v, nil
	}
	return 0, fmt.Errorf("no %s in its /metrics", name)
}

// printProm prints the Prometheus figures beside serve's own.
func printProm(w io.Writer, n int, ps []*promResult) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintf(w, "The cost on a real Prometheus scraping serve at %d hosts (a fresh one each, every %s, %d scrapes):\n", n, ps[0].interval, ps[0].scrapes)
	for _, p := range ps {
		if p.err != nil {
			fmt.Fprintf(w, "  %s: not measured: %v\n", p.bin, p.err)
			continue
		}
		fmt.Fprintf(w, "  %s (%s): scrape duration median %.3f s, max %.3f s; %.0f samples per scrape (%.1f per host); %.0f head series; peak RSS %.1f MB\n",
			p.bin, p.version, p.durMedian, p.durMax, p.samples, p.samples/float64(n), p.headSeries, float64(p.peakRSS)/1e6)
	}
}
