// Command bench measures backupwatch on this machine against a real Vault:
// its full refresh next to a bare read loop (the limit) and to a replay of
// the runbook's script, then the scrape latency and peak memory of
// `backupwatch serve`. `make bench` runs it; it prints, it never fails on a
// missed target.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
)

type options struct {
	vaultdev, backupwatch, script, out string
	policy                             string
	sizes                              []int
	tokens                             []string
	runs, scriptRuns, scriptMax        int
	scrapes, workers                   int
	scrapers                           []int
	memRefresh                         time.Duration
	history, serve, timeRefresh        bool
	prometheus                         []string
	promScrapes                        int
	// repo-check: a repository of repoHosts hosts and repoSnapshots
	// snapshots (0: not measured) in repoDir, timed repoRuns times.
	restic, repoDir                    string
	repoHosts, repoSnapshots, repoRuns int
	repoOnly                           bool
}

// Token kinds the readers can use.
const (
	tokenAppRole = "approle" // a read-only policy, as in production
	tokenRoot    = "root"    // no ACL checks: Vault does the least it can
)

func main() { os.Exit(run()) }

var started = time.Now()

func run() int {
	var o options
	sizes := flag.String("sizes", "100,1000,10000", "fleet sizes, ascending (the fleet grows from one to the next)")
	tokens := flag.String("tokens", tokenAppRole+","+tokenRoot, "tokens the bare loop and backupwatch read with, each measured: approle (a read-only policy, as in production) and root (skips Vault's ACL checks, so the client's own cost shows most); serve uses the first")
	flag.StringVar(&o.vaultdev, "vaultdev", "bin/vaultdev", "vaultdev binary (`make vaultdev`)")
	flag.StringVar(&o.backupwatch, "backupwatch", "bin/backupwatch", "backupwatch binary (`make build`)")
	flag.StringVar(&o.script, "script", "tools/bench/runbook-replay.sh", "the runbook replay script")
	flag.StringVar(&o.policy, "policy", shippedPolicy, "the readers' Vault policy")
	flag.StringVar(&o.out, "out", "bench-results/latest.txt", "where the report is saved as well")
	flag.IntVar(&o.runs, "runs", 5, "timed refreshes per size and token, after one warm-up")
	flag.IntVar(&o.scriptRuns, "script-runs", 3, "timed runs of the runbook script per size")
	flag.IntVar(&o.scriptMax, "script-max", 1000, "largest fleet the runbook script is timed on")
	flag.IntVar(&o.scrapes, "scrapes", 20, "timed scrapes of /metrics, after one warm-up")
	flag.IntVar(&o.workers, "workers", 8, "concurrent reads of the bare loop and of backupwatch")
	scrapers := flag.String("scrapers", "1,10", "for each number, a fresh serve at the largest size is scraped by that many clients at once, back to back, while it refreshes, and its peak memory read")
	flag.DurationVar(&o.memRefresh, "mem-refresh", 10*time.Second, "serve's --refresh.interval while its memory is measured (each measurement lasts two refreshes); twice serve's first refresh if that is longer")
	flag.BoolVar(&o.history, "history", true, "at the largest size, last, time backupwatch's refresh again after writing a full history (30 entries) for every host")
	flag.BoolVar(&o.timeRefresh, "time-refresh", true, "time the bare loop and backupwatch's refresh at each size; false leaves them out (a run at 100,000 hosts that measures serve alone: four refreshes of the fleet fewer)")
	flag.BoolVar(&o.serve, "serve", true, "measure `backupwatch serve` at the largest size: its scrape latency and peak memory")
	large := flag.Bool("large", false, "add a fleet of 100,000 hosts to -sizes (some 20 minutes more on a 2-core machine)")
	toolsBin := os.Getenv("BACKUPWATCH_TOOLS_BIN")
	if toolsBin == "" {
		toolsBin = "tools/bin"
	}
	proms := flag.String("prometheus", "/usr/bin/prometheus,"+filepath.Join(toolsBin, "prometheus"), "Prometheus binaries that scrape serve at the largest size, each measured (Debian's and the current upstream one); empty for none")
	flag.IntVar(&o.promScrapes, "prom-scrapes", 10, "scrapes of serve by each Prometheus")
	flag.StringVar(&o.restic, "restic", defaultRestic(), "restic binary repo-check runs and is timed against")
	flag.StringVar(&o.repoDir, "repo-dir", "bench-results/restic-repo", "where the restic repository repo-check is timed on is built, once, and reused")
	flag.IntVar(&o.repoHosts, "repo-hosts", 1000, "hosts in that repository")
	flag.IntVar(&o.repoSnapshots, "repo-snapshots", targetRepoSnapshots, "snapshots in that repository (0: repo-check is not timed)")
	flag.IntVar(&o.repoRuns, "repo-runs", 3, "timed runs of repo-check and of restic snapshots --json alone, after one warm-up")
	flag.BoolVar(&o.repoOnly, "repo-only", false, "time repo-check only (no Vault, no serve)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the bench process (the bare loop and backupwatch's refresh run in it) to this file")
	flag.Parse()
	if *large && !strings.HasSuffix(strings.TrimSpace(*sizes), fmt.Sprint(targetHostsLarge)) {
		*sizes += fmt.Sprintf(",%d", targetHostsLarge)
	}
	for _, p := range strings.Split(*proms, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.prometheus = append(o.prometheus, p)
		}
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || (len(o.sizes) > 0 && n <= o.sizes[len(o.sizes)-1]) {
			fmt.Fprintf(os.Stderr, "bench: -sizes must be ascending positive numbers, got %q\n", *sizes)
			return 2
		}
		o.sizes = append(o.sizes, n)
	}
	for _, t := range strings.Split(*tokens, ",") {
		t = strings.TrimSpace(t)
		if (t != tokenAppRole && t != tokenRoot) || slices.Contains(o.tokens, t) {
			fmt.Fprintf(os.Stderr, "bench: -tokens takes approle, root or both, got %q\n", *tokens)
			return 2
		}
		o.tokens = append(o.tokens, t)
	}
	for _, s := range strings.Split(*scrapers, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k < 1 {
			fmt.Fprintf(os.Stderr, "bench: -scrapers takes positive numbers, got %q\n", *scrapers)
			return 2
		}
		o.scrapers = append(o.scrapers, k)
	}
	if o.memRefresh < time.Second {
		fmt.Fprintln(os.Stderr, "bench: -mem-refresh must be at least 1s")
		return 2
	}
	if o.runs < 1 || o.scriptRuns < 1 || o.scrapes < 1 || o.workers < 1 || o.repoRuns < 1 || o.repoHosts < 1 || o.repoSnapshots < 0 {
		fmt.Fprintln(os.Stderr, "bench: -runs, -script-runs, -scrapes and -workers must be at least 1")
		return 2
	}

	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(pf)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "backupwatch-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(dir) // after the processes are stopped
	ps := &procs{}
	defer ps.stopAll()

	res := &results{opts: o, load: loadAverage(), commit: commit()}
	err = bench(ctx, o, ps, dir, res)
	ps.stopAll()
	if ctx.Err() != nil {
		err = errors.New("interrupted")
	}
	res.elapsed = time.Since(started)

	var report bytes.Buffer
	res.print(io.MultiWriter(os.Stdout, &report), err)
	if ctx.Err() == nil {
		if werr := save(o.out, report.Bytes()); werr != nil {
			fmt.Fprintln(os.Stderr, "bench: saving the report:", werr)
		} else {
			fmt.Fprintln(os.Stderr, "bench: report saved to", o.out)
		}
	}
	if err != nil {
		return 1
	}
	return 0
}

func save(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// progress goes to stderr only, so the saved report is just the results.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %5.1fs "+format+"\n", append([]any{time.Since(started).Seconds()}, args...)...)
}

func bench(ctx context.Context, o options, ps *procs, dir string, res *results) error {
	if o.repoSnapshots > 0 {
		// First, while the machine holds no Vault or serve of the bench.
		var err error
		if res.repo, err = benchRepoCheck(ctx, o, dir); err != nil {
			return fmt.Errorf("repo-check: %w", err)
		}
	}
	if o.repoOnly {
		return nil
	}
	for _, p := range []string{o.vaultdev, o.backupwatch, o.script} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%w (`make bench` builds bin/ first; run it from the repository root)", err)
		}
	}
	for _, tool := range []string{"bash", "curl", "jq", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the runbook replay needs %s: %w (run `make deps`)", tool, err)
		}
	}

	progress("starting vaultdev (in-memory storage)")
	v, err := startVault(ctx, ps, o.vaultdev, dir)
	if err != nil {
		return err
	}
	policy, err := loadPolicy(o.policy)
	if err != nil {
		return err
	}
	if err := v.setUp(ctx, dir, policy); err != nil {
		return fmt.Errorf("setting up vault: %w", err)
	}
	var readers []reader
	for _, kind := range o.tokens {
		token, err := v.readerToken(ctx, kind == tokenRoot)
		if err != nil {
			return err
		}
		bw, err := newRefresher(ctx, v, o.workers, kind == tokenRoot)
		if err != nil {
			return fmt.Errorf("backupwatch: %w", err)
		}
		readers = append(readers, reader{token: kind, bare: newBareLoop(v.addr, token, o.workers), bw: bw})
	}

	f := &fleetData{}
	scriptWarm := false
	for _, n := range o.sizes {
		progress("writing records up to %d hosts", n)
		from := len(f.hosts)
		fill, err := timed(func() error { return v.fill(ctx, f, n) })
		if err != nil {
			return fmt.Errorf("filling vault: %w", err)
		}
		res.sizes = append(res.sizes, sizeResult{hosts: n, failed: f.failed, written: n - from, fill: fill})
		sr := &res.sizes[len(res.sizes)-1]

		for _, r := range readers {
			if !o.timeRefresh {
				break
			}
			progress("%d hosts, %s token: timing the bare loop and backupwatch, %d runs each after a warm-up", n, r.token, o.runs)
			sr.refresh = append(sr.refresh, refreshResult{token: r.token})
			rr := &sr.refresh[len(sr.refresh)-1]
			if err := timeRefreshes(ctx, r, f, o.runs, rr); err != nil {
				return err
			}
		}

		if n > o.scriptMax {
			sr.scriptSkipped = true
			continue
		}
		runs := o.scriptRuns
		if !scriptWarm {
			runs++ // the first run of all warms the page cache for bash, curl and jq
		}
		progress("%d hosts: timing the runbook script, %d runs", n, runs)
		for i := 0; i < runs; i++ {
			d, err := timed(func() error { return runScript(ctx, o.script, v, f, dir) })
			if err != nil {
				return err
			}
			if scriptWarm {
				sr.sh = append(sr.sh, d)
			}
			scriptWarm = true
		}
	}

	n := o.sizes[len(o.sizes)-1]
	if o.history {
		// Last of the refreshes, before serve's: the histories stay.
		progress("%d hosts: timing backupwatch (%s token) before and after writing every host's history", n, readers[0].token)
		res.history, err = benchHistory(ctx, v, readers[0], f, o.runs)
		if err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if !o.serve {
		return nil
	}
	progress("%d hosts: starting backupwatch serve (%s token) and scraping /metrics %d times", n, o.tokens[0], o.scrapes)
	res.serveN = n
	res.serve, err = measureServe(ctx, ps, o.backupwatch, v, o.tokens[0] == tokenRoot, n, o.scrapes, dir, f.hosts, func(target string) {
		for _, bin := range o.prometheus {
			progress("%d hosts: %s scraping serve %d times", n, bin, o.promScrapes)
			res.prom = append(res.prom, measurePrometheus(ctx, ps, bin, target, n, o.promScrapes, dir))
		}
	})
	if err != nil {
		return fmt.Errorf("backupwatch serve: %w", err)
	}
	res.memRefresh = memInterval(o.memRefresh, res.serve.firstRefresh)
	// At 100,000 hosts the serves measured for memory start from what the
	// serve above saved, side by side: each is measured over one refresh
	// (see measureMemory), and those run at once rather than one after
	// another (the two scraper counts took over an hour otherwise).
	seed := res.serve.savedSnapshot
	if n < targetHostsLarge {
		seed = "" // a fresh serve and two refreshes each, as before: a few minutes at 10,000 hosts
	} else if seed != "" {
		// Each is measured over its first refresh alone, which starts at
		// once: the interval is only that refresh's bound, and the serves
		// share Vault and the machine with each other and eleven
		// scrapers (twice the serve phase's first refresh was cut short).
		res.memRefresh = max(res.memRefresh, 2*time.Duration(len(o.scrapers))*res.serve.firstRefresh).Round(time.Second)
	}
	res.memory = make([]*memResult, len(o.scrapers))
	errs := make([]error, len(o.scrapers))
	var wg sync.WaitGroup
	for i, k := range o.scrapers {
		if seed != "" {
			progress("%d hosts: a serve from the saved snapshot, refreshing every %s, %d scraper(s) back to back until its first refresh is over, then its peak memory", n, res.memRefresh, k)
		} else {
			progress("%d hosts: a fresh serve refreshing every %s, %d scraper(s) back to back for two refreshes, then its peak memory", n, res.memRefresh, k)
		}
		measure := func() {
			res.memory[i], errs[i] = measureMemory(ctx, ps, o.backupwatch, v, o.tokens[0] == tokenRoot, n, k, res.memRefresh, dir, seed)
		}
		if seed == "" {
			measure() // a fresh serve each, two refreshes: one at a time
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			measure()
		}()
	}
	wg.Wait()
	for i, k := range o.scrapers {
		if errs[i] != nil {
			res.memory = nil
			return fmt.Errorf("backupwatch serve, %d scrapers: %w", k, errs[i])
		}
	}
	return nil
}

// memInterval is serve's --refresh.interval while its memory is measured:
// -mem-refresh, or twice its first complete refresh if that is longer.
// serve bounds a refresh by its interval, and at 100,000 hosts a refresh
// takes over a minute: a 10 s interval would cut every one short.
func memInterval(flag, first time.Duration) time.Duration {
	return max(flag, (2 * first).Round(time.Second))
}

// defaultRestic is the current restic of BACKUPWATCH_TOOLS_BIN when it is
// set, else restic from $PATH.
func defaultRestic() string {
	if d := os.Getenv("BACKUPWATCH_TOOLS_BIN"); d != "" {
		return filepath.Join(d, "restic")
	}
	return "restic"
}
