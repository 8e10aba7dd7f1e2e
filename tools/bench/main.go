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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
)

// Targets from the issue.
const (
	targetRatio  = 1.25                   // backupwatch/bare at targetHosts and above
	targetRatioN = 1000                   // smallest fleet the ratio target applies to
	targetHosts  = 10000                  // fleet size of the scrape and memory targets
	targetScrape = 100 * time.Millisecond // /metrics latency
	targetRSS    = 100_000_000            // bytes, peak resident memory of serve
)

type options struct {
	vaultdev, backupwatch, script, out string
	sizes                              []int
	runs, scriptRuns, scriptMax        int
	scrapes, workers                   int
	rootToken                          bool
}

func main() { os.Exit(run()) }

func run() int {
	var o options
	sizes := flag.String("sizes", "100,1000,10000", "fleet sizes, ascending (the fleet grows from one to the next)")
	flag.StringVar(&o.vaultdev, "vaultdev", "bin/vaultdev", "vaultdev binary (`make vaultdev`)")
	flag.StringVar(&o.backupwatch, "backupwatch", "bin/backupwatch", "backupwatch binary (`make build`)")
	flag.StringVar(&o.script, "script", "tools/bench/runbook-replay.sh", "the runbook replay script")
	flag.StringVar(&o.out, "out", "bench-results/latest.txt", "where the report is saved as well")
	flag.IntVar(&o.runs, "runs", 7, "timed refreshes per size, after one warm-up")
	flag.IntVar(&o.scriptRuns, "script-runs", 3, "timed runs of the runbook script per size")
	flag.IntVar(&o.scriptMax, "script-max", 1000, "largest fleet the runbook script is timed on")
	flag.IntVar(&o.scrapes, "scrapes", 20, "timed scrapes of /metrics, after one warm-up")
	flag.IntVar(&o.workers, "workers", 8, "concurrent reads of the bare loop and of backupwatch")
	flag.BoolVar(&o.rootToken, "root-token", false, "read with the root token, which skips Vault's ACL checks, instead of an AppRole token with a read-only policy (the runbook replay always logs in with AppRole)")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || (len(o.sizes) > 0 && n <= o.sizes[len(o.sizes)-1]) {
			fmt.Fprintf(os.Stderr, "bench: -sizes must be ascending positive numbers, got %q\n", *sizes)
			return 2
		}
		o.sizes = append(o.sizes, n)
	}
	if o.runs < 1 || o.scriptRuns < 1 || o.scrapes < 1 || o.workers < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs, -script-runs, -scrapes and -workers must be at least 1")
		return 2
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

	res := &results{opts: o, started: time.Now(), load: loadAverage(), commit: commit()}
	err = bench(ctx, o, ps, dir, res)
	ps.stopAll()

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
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

type sizeResult struct {
	hosts           int
	bare, bw, sh    []time.Duration
	scriptSkipped   bool
	failed, records int
}

type results struct {
	opts    options
	started time.Time
	load    string
	commit  string
	sizes   []sizeResult
	serve   *serveResult
	serveN  int
}

func bench(ctx context.Context, o options, ps *procs, dir string, res *results) error {
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
	if err := v.setUp(ctx, dir); err != nil {
		return fmt.Errorf("setting up vault: %w", err)
	}
	token, err := v.readerToken(ctx, o.rootToken)
	if err != nil {
		return err
	}
	bare := newBareLoop(v.addr, token, o.workers)
	bw, err := newRefresher(ctx, v, o.workers, o.rootToken)
	if err != nil {
		return fmt.Errorf("backupwatch: %w", err)
	}

	f := &fleetData{}
	scriptWarm := false
	for _, n := range o.sizes {
		progress("writing records up to %d hosts", n)
		if err := v.fill(ctx, f, n); err != nil {
			return fmt.Errorf("filling vault: %w", err)
		}
		sr := sizeResult{hosts: n, failed: f.failed, records: n + 1}

		progress("%d hosts: timing the bare loop and backupwatch, %d runs each after a warm-up", n, o.runs)
		for i := 0; i <= o.runs; i++ {
			// Alternate which goes first, so neither always runs on the
			// heels of the other.
			steps := []func() error{
				func() error {
					d, err := timed(func() error {
						got, err := bare.run(ctx)
						if err == nil && got != n+1 {
							err = fmt.Errorf("bare loop read %d records, want %d", got, n+1)
						}
						return err
					})
					if i > 0 {
						sr.bare = append(sr.bare, d)
					}
					return err
				},
				func() error {
					d, err := timed(func() error { return bw.run(ctx, f) })
					if i > 0 {
						sr.bw = append(sr.bw, d)
					}
					return err
				},
			}
			if i%2 == 1 {
				slices.Reverse(steps)
			}
			for _, step := range steps {
				if err := step(); err != nil {
					res.sizes = append(res.sizes, sr)
					return err
				}
			}
		}

		if n > o.scriptMax {
			sr.scriptSkipped = true
		} else {
			runs := o.scriptRuns
			if !scriptWarm {
				runs++ // the first run of all warms the page cache for bash, curl and jq
			}
			progress("%d hosts: timing the runbook script, %d runs", n, runs)
			for i := 0; i < runs; i++ {
				d, err := timed(func() error { return runScript(ctx, o.script, v, f, dir) })
				if err != nil {
					res.sizes = append(res.sizes, sr)
					return err
				}
				if scriptWarm {
					sr.sh = append(sr.sh, d)
				}
				scriptWarm = true
			}
		}
		res.sizes = append(res.sizes, sr)
	}

	n := o.sizes[len(o.sizes)-1]
	progress("%d hosts: starting backupwatch serve and scraping /metrics %d times", n, o.scrapes)
	res.serveN = n
	res.serve, err = measureServe(ctx, ps, o.backupwatch, v, o.rootToken, n, o.scrapes, dir)
	if err != nil {
		return fmt.Errorf("backupwatch serve: %w", err)
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

func (r *results) print(w io.Writer, failure error) {
	o := r.opts
	fmt.Fprintf(w, "backupwatch bench, %s, commit %s, %s %s/%s, %d CPUs, load average at start %s\n",
		r.started.UTC().Format("2006-01-02 15:04 MST"), r.commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), r.load)
	reader := "an AppRole token with a read-only policy"
	if o.rootToken {
		reader = "the root token (no ACL checks; the runbook script still logs in with AppRole)"
	}
	fmt.Fprintf(w, "Vault: vaultdev (Vault's core and HTTP API), in-memory storage, KV v2; readers use %s.\n", reader)
	fmt.Fprintf(w, "Refresh = read every record (one LIST, one GET per host, %d workers, keep-alive); median of %d runs after a warm-up,\n", o.workers, o.runs)
	fmt.Fprintf(w, "the two interleaved. Runbook script = runbook-replay.sh (curl + jq for each vault CLI call), median of %d runs.\n\n", o.scriptRuns)

	var misses []string
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "hosts\tbare loop\tbackupwatch\tbackupwatch/bare\t\trunbook script\tscript/backupwatch")
	for _, s := range r.sizes {
		bare, bw, sh := median(s.bare), median(s.bw), median(s.sh)
		ratio, verdict := "-", ""
		if bare > 0 && bw > 0 {
			x := float64(bw) / float64(bare)
			ratio = fmt.Sprintf("%.2f×", x)
			if s.hosts >= targetRatioN {
				verdict = fmt.Sprintf("meets target (≤ %.2f×)", targetRatio)
				if x > targetRatio {
					verdict = fmt.Sprintf("MISSES target (≤ %.2f×)", targetRatio)
					misses = append(misses, fmt.Sprintf("refresh at %d hosts is %.2f× the bare loop", s.hosts, x))
				}
			}
		}
		script, sratio := "not run", "-"
		if s.scriptSkipped {
			script = fmt.Sprintf("not run (> %d)", o.scriptMax)
		}
		if sh > 0 {
			script = fmtDur(sh)
			if bw > 0 {
				sratio = fmt.Sprintf("%.0f×", float64(sh)/float64(bw))
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.hosts, fmtDur(bare), fmtDur(bw), ratio, verdict, script, sratio)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, s := range r.sizes {
		fmt.Fprintf(w, "spread at %d hosts (min–max): bare %s, backupwatch %s", s.hosts, spread(s.bare), spread(s.bw))
		if len(s.sh) > 0 {
			fmt.Fprintf(w, ", script %s", spread(s.sh))
		}
		fmt.Fprintf(w, "; %d of the hosts failed\n", s.failed)
	}
	fmt.Fprintln(w)

	if s := r.serve; s != nil {
		med, worst := median(s.scrapes), slices.Max(s.scrapes)
		verdict := fmt.Sprintf("meets target (< %s)", fmtDur(targetScrape))
		if worst >= targetScrape || r.serveN < targetHosts {
			if r.serveN < targetHosts {
				verdict = fmt.Sprintf("target applies at %d hosts", targetHosts)
			} else {
				verdict = fmt.Sprintf("MISSES target (< %s)", fmtDur(targetScrape))
				misses = append(misses, fmt.Sprintf("/metrics at %d hosts takes up to %s", r.serveN, fmtDur(worst)))
			}
		}
		fmt.Fprintf(w, "/metrics from the cache at %d hosts, %d scrapes (%.1f MB uncompressed): median %s, max %s: %s\n",
			r.serveN, len(s.scrapes), float64(s.bodyBytes)/1e6, fmtDur(med), fmtDur(worst), verdict)
		verdict = fmt.Sprintf("meets target (< %d MB)", targetRSS/1_000_000)
		if s.peakRSS >= targetRSS && r.serveN >= targetHosts {
			verdict = fmt.Sprintf("MISSES target (< %d MB)", targetRSS/1_000_000)
			misses = append(misses, fmt.Sprintf("serve peaks at %.1f MB resident", float64(s.peakRSS)/1e6))
		} else if r.serveN < targetHosts {
			verdict = fmt.Sprintf("target applies at %d hosts", targetHosts)
		}
		fmt.Fprintf(w, "peak resident memory of backupwatch serve at %d hosts (VmHWM): %.1f MB: %s\n", r.serveN, float64(s.peakRSS)/1e6, verdict)
		fmt.Fprintf(w, "serve's first complete refresh, from process start (login included): %s\n", fmtDur(s.firstRefresh))
	}
	fmt.Fprintln(w)
	switch {
	case failure != nil:
		fmt.Fprintf(w, "BENCH FAILED, results incomplete: %v\n", failure)
	case len(misses) > 0:
		fmt.Fprintf(w, "*** %d target(s) MISSED: %s ***\n", len(misses), strings.Join(misses, "; "))
	default:
		fmt.Fprintln(w, "All targets met.")
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return fmtDur(slices.Min(ds)) + "–" + fmtDur(slices.Max(ds))
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// commit names the code measured: the commit, marked when the working tree
// differs from it.
func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if err := exec.Command("git", "diff", "--quiet", "HEAD", "--", "cmd", "internal").Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			c += " (with uncommitted changes)"
		}
	}
	return c
}
