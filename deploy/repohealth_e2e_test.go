package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// TestRepositoryHealthEndToEnd (issue 19's "done when"): on a real
// repository written by each restic generation (Debian's 0.14, the current
// 0.19), through `backupwatch repo-check` into the local store, `serve`'s
// /metrics, and the shipped rules evaluated by both promtools:
//   - a stale lock left by `restic backup` killed with SIGKILL mid-backup:
//     BackupRepositoryLockStale, naming its host and pid, once a day old;
//   - a forgotten day (daily, keep-daily: 4, no snapshot 3 days ago):
//     BackupRestorePointsMissing;
//   - a pruning job that stopped (pruned, keep-daily: 2, 5 daily
//     snapshots): BackupRetentionNotApplied, both for the count and for the
//     oldest snapshot;
//   - a snapshot dated a year ahead (`restic backup --time`) for db, whose
//     last real snapshot is 2 days old while its record says it succeeded:
//     BackupRepositorySnapshotFromFuture and still BackupRepositoryDisagrees;
//   - junk hostnames (`restic backup --stdin --host spamN`): counted as
//     undeclared hosts, never picked by `restore-test run --pick oldest`
//     with hosts: declared, and gone from the record and /metrics
//     HostsKeptFor after their snapshots are forgotten.
//
// The repository is built once per restic generation; both run in
// parallel.
func TestRepositoryHealthEndToEnd(t *testing.T) {
	bw := buildBackupwatch(t)
	promtools := parts.Both(t, "promtool")
	for _, r := range parts.Both(t, "restic") {
		t.Run(r.String(), func(t *testing.T) {
			t.Parallel()
			testRepositoryHealth(t, bw, r.Path, promtools)
		})
	}
}

var built struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

// buildBackupwatch builds the binary once for the package's tests.
func buildBackupwatch(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "backupwatch-deploy-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "backupwatch")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, "../cmd/backupwatch").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// healthRepo is one restic repository under test, with backupwatch's
// local store beside it.
type healthRepo struct {
	t                   *testing.T
	dir, repo, pw, cfg  string
	restic, bw, records string
	env                 []string
}

func (h *healthRepo) resticArgs(args ...string) *exec.Cmd {
	cmd := exec.Command(h.restic, append([]string{"--no-cache", "--repo", h.repo, "--password-file", h.pw}, args...)...)
	cmd.Env = h.env
	return cmd
}

func (h *healthRepo) run(cmd *exec.Cmd, stdin string) string {
	h.t.Helper()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// backup writes a snapshot of host dated at (zero: now), from stdin.
func (h *healthRepo) backup(host string, at time.Time) {
	h.t.Helper()
	args := []string{"backup", "--stdin", "--stdin-filename", "data", "--host", host}
	if !at.IsZero() {
		args = append(args, "--time", at.UTC().Format("2006-01-02 15:04:05")) // TZ=UTC in h.env
	}
	h.run(h.resticArgs(args...), "data of "+host+" at "+at.String()+"\n")
}

func (h *healthRepo) backupwatch(args ...string) string {
	h.t.Helper()
	cmd := exec.Command(h.bw, append([]string{"--store.dir=" + h.records}, args...)...)
	cmd.Env = h.env
	return h.run(cmd, "")
}

func (h *healthRepo) repoCheck() {
	h.t.Helper()
	h.backupwatch("repo-check", "--repo="+h.repo, "--name=fleet", "--password-file="+h.pw, "--restic.binary="+h.restic, "--config.file="+h.cfg, "--no-size")
}

func testRepositoryHealth(t *testing.T, bw, restic string, promtools []parts.Part) {
	dir := t.TempDir()
	h := &healthRepo{t: t, dir: dir, repo: filepath.Join(dir, "repo"), pw: filepath.Join(dir, "password"),
		cfg: filepath.Join(dir, "backupwatch.yml"), restic: restic, bw: bw, records: filepath.Join(dir, "records"),
		env: []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "TZ=UTC", "RESTIC_CACHE_DIR=" + filepath.Join(dir, "cache"), "XDG_STATE_HOME=" + filepath.Join(dir, "state")}}
	writeFile(t, h.pw, "correct horse battery\n")
	writeFile(t, h.cfg, `hosts: [db, daily, pruned]
retention:
  - {host: daily, keep-daily: 4}
  - {host: pruned, keep-daily: 2}
`)
	h.run(h.resticArgs("init"), "")

	now := time.Now().UTC()
	noon := func(daysAgo int) time.Time {
		return now.Truncate(24*time.Hour).AddDate(0, 0, -daysAgo).Add(12 * time.Hour)
	}
	for _, d := range []int{1, 2, 4} { // 3 days ago forgotten
		h.backup("daily", noon(d))
	}
	for d := 1; d <= 5; d++ { // forget --keep-daily 2 would leave 2
		h.backup("pruned", noon(d))
	}
	h.backup("db", now.Add(-48*time.Hour))
	h.backup("db", now.AddDate(1, 0, 0))
	spam := []string{"spam1", "spam2", "spam3"}
	for _, s := range spam {
		h.backup(s, time.Time{})
	}
	// db's own record says it backed up a minute ago; the repository's
	// newest real snapshot of db is 2 days old.
	h.backupwatch("record", "--status=success", "--host=db", "--at="+now.Add(-time.Minute).Format(time.RFC3339))

	// The restore-test rotation: two runs test two of the declared hosts,
	// never tested before, and none of the junk, never tested either.
	var tested []string
	for range 2 {
		h.backupwatch("restore-test", "run", "--repo="+h.repo, "--password-file="+h.pw, "--restic.binary="+restic, "--pick=oldest", "--config.file="+h.cfg)
	}
	entries, err := os.ReadDir(filepath.Join(h.records, "checks", "restore-test"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if h, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			tested = append(tested, h)
		}
	}
	if len(tested) != 2 || slices.ContainsFunc(tested, func(h string) bool { return strings.HasPrefix(h, "spam") }) {
		t.Errorf("restore-test run --pick oldest twice tested %v, want two of the declared db, daily, pruned and no junk host", tested)
	}

	h.repoCheck()
	metrics := h.serve(t)
	m := metrics.wait(t, "the junk hosts counted", func(m scrape) bool {
		return m.value(`backup_repository_undeclared_hosts{repository="fleet"}`) == "3"
	})
	for _, s := range spam {
		if got := m.value(`backup_repository_host_snapshots{host="` + s + `",repository="fleet"}`); got != "1" {
			t.Errorf("%s: %q snapshots exported, want 1", s, got)
		}
	}

	// The junk forgotten: its hosts stay, with 0 snapshots, then age out.
	var ids []struct {
		ID string `json:"id"`
	}
	list := []string{"snapshots", "--json"}
	for _, s := range spam {
		list = append(list, "--host", s)
	}
	if err := json.Unmarshal([]byte(h.run(h.resticArgs(list...), "")), &ids); err != nil || len(ids) != len(spam) {
		t.Fatalf("the junk's snapshots: %v %v", ids, err)
	}
	forget := []string{"forget"}
	for _, id := range ids {
		forget = append(forget, id.ID)
	}
	h.run(h.resticArgs(forget...), "")
	h.repoCheck()
	metrics.wait(t, "the junk hosts kept with 0 snapshots", func(m scrape) bool {
		return m.value(`backup_repository_undeclared_hosts{repository="fleet"}`) == "0" &&
			m.value(`backup_repository_host_snapshots{host="spam1",repository="fleet"}`) == "0"
	})
	h.ageJunk(spam, now.Add(-31*24*time.Hour))
	h.repoCheck()
	metrics.wait(t, "the junk hosts aged out", func(m scrape) bool {
		return !strings.Contains(m.text, `host="spam`) && m.value(`backup_repository_host_snapshots{host="db",repository="fleet"}`) == "2"
	})

	// Last, as it blocks restic forget: restic backup killed mid-backup.
	pid := h.killBackup()
	h.repoCheck()
	m = metrics.wait(t, "the killed backup's lock", func(m scrape) bool {
		return m.value(`backup_repository_locks{exclusive="false",repository="fleet"}`) == "1"
	})
	holder, _ := os.Hostname()
	lockSeries := fmt.Sprintf(`backup_repository_oldest_lock_timestamp_seconds{exclusive="false",host=%q,pid="%d",repository="fleet"}`, holder, pid)
	if m.value(lockSeries) == "" {
		t.Fatalf("no %s in /metrics:\n%s", lockSeries, m.grep("lock"))
	}
	if locks, err := os.ReadDir(filepath.Join(h.repo, "locks")); err != nil || len(locks) != 1 {
		t.Errorf("after the check the repository holds %d locks (%v), want the killed backup's: a check never removes one", len(locks), err)
	}

	test := promtoolTest(t, m, holder, pid)
	for _, p := range promtools {
		t.Run(p.String(), func(t *testing.T) { runTool(t, dir, p.Path, "test", "rules", test) })
	}
}

// killBackup starts restic backup, kills it with SIGKILL once it holds its
// lock (reading its data from stdin) and returns its pid.
func (h *healthRepo) killBackup() int {
	h.t.Helper()
	cmd := h.resticArgs("backup", "--stdin", "--stdin-filename", "big", "--host", "db")
	in, err := cmd.StdinPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if _, err := in.Write([]byte(strings.Repeat("half of a large file\n", 4096))); err != nil {
		h.t.Fatalf("restic backup's stdin: %v", err)
	}
	// The local backend keeps a lock as a file under locks/: looking
	// there costs no restic call (each derives the key, a second of CPU).
	deadline := time.Now().Add(time.Minute)
	for {
		locks, err := os.ReadDir(filepath.Join(h.repo, "locks"))
		if err == nil && len(locks) == 1 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("restic backup took no lock within a minute: %v %v", err, locks)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		h.t.Fatal(err)
	}
	cmd.Wait()
	return cmd.Process.Pid
}

// ageJunk moves the time the record says each junk host lost its last
// snapshot back to at: the record is repo-check's memory, so this is what
// it holds once that much time has passed.
func (h *healthRepo) ageJunk(hosts []string, at time.Time) {
	h.t.Helper()
	p := filepath.Join(h.records, "checks", "repository", "fleet.json")
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		h.t.Fatal(err)
	}
	all, _ := doc["hosts"].(map[string]any)
	for _, s := range hosts {
		e, ok := all[s].(map[string]any)
		if !ok || e["gone_at"] == nil {
			h.t.Fatalf("%s in the record: %v, want it with gone_at", s, all[s])
		}
		e["gone_at"] = at.Format(time.RFC3339)
	}
	if b, err = json.Marshal(doc); err != nil {
		h.t.Fatal(err)
	}
	writeFile(h.t, p+".tmp", string(b))
	if err := os.Rename(p+".tmp", p); err != nil {
		h.t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// metricsURL is a running serve's /metrics.
type metricsURL string

// serve starts backupwatch serve on the local store, re-reading it every
// second: its watch brings host records at once, a repository's record at
// the next full re-read.
func (h *healthRepo) serve(t *testing.T) metricsURL {
	t.Helper()
	addr := parts.FreeAddr(t)
	cmd := exec.Command(h.bw, "--store.dir="+h.records, "serve", "--web.listen-address="+addr, "--refresh.interval=1s", "--state.dir="+filepath.Join(h.dir, "serve-state"))
	cmd.Env = h.env
	log, err := os.Create(filepath.Join(h.dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("serve's log:\n%s", b)
		}
	})
	return metricsURL("http://" + addr + "/metrics")
}

// scrape is one /metrics answer: its text, and each sample's value by its
// series as written in a PromQL selector (labels sorted).
type scrape struct {
	text     string
	families map[string]*dto.MetricFamily
}

func (s scrape) value(series string) string {
	for _, mf := range s.families {
		for _, m := range mf.Metric {
			if selector(mf.GetName(), m) == series {
				return strconv.FormatFloat(sampleValue(mf, m), 'f', -1, 64)
			}
		}
	}
	return ""
}

func (s scrape) grep(word string) string {
	var out []string
	for line := range strings.Lines(s.text) {
		if strings.Contains(line, word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// wait scrapes until ok holds, for a minute at most.
func (u metricsURL) wait(t *testing.T, what string, ok func(scrape) bool) scrape {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last scrape
	var lastErr error
	for {
		s, err := u.get()
		if err == nil && ok(s) {
			return s
		}
		if err == nil {
			last = s
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("/metrics: waited a minute for %s (last error %v):\n%s", what, lastErr, last.grep("backup_repository"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (u metricsURL) get() (scrape, error) {
	resp, err := http.Get(string(u))
	if err != nil {
		return scrape{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("scrape: %s %v", resp.Status, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		return scrape{}, fmt.Errorf("parse /metrics: %w", err)
	}
	return scrape{text: string(b), families: fams}, nil
}

func selector(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.Label {
		ls = append(ls, l.GetName()+"="+strconv.Quote(l.GetValue()))
	}
	slices.Sort(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func sampleValue(mf *dto.MetricFamily, m *dto.Metric) float64 {
	switch mf.GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// promtoolTest writes a promtool rule test over the shipped rules whose
// input is what serve exported (each backup_ series as scraped), and
// returns its path. It holds the scrape for 30 minutes, the checks' own
// time (backup_repository_last_success_timestamp_seconds) advancing by 75
// minutes a minute, as checks 75 minutes apart would record it: the lock
// the killed restic left is never refreshed (its time is the one it
// wrote), so at the 21st minute, 26 hours 15 minutes of checks later, it
// is over a day old. The rules read only that difference, never time(),
// so 26 hours are not evaluated minute by minute (1,560 evaluations of the
// whole rule file took minutes on a loaded machine).
func promtoolTest(t *testing.T, s scrape, holder string, pid int) string {
	t.Helper()
	const step, steps = 75 * 60, 30
	var series []string
	for name, mf := range s.families {
		if !strings.HasPrefix(name, "backup_") {
			continue
		}
		for _, m := range mf.Metric {
			v := sampleValue(mf, m)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			values := fmt.Sprintf("%s+0x%d", strconv.FormatFloat(v, 'f', -1, 64), steps)
			if name == "backup_repository_last_success_timestamp_seconds" {
				values = fmt.Sprintf("%s+%dx%d", strconv.FormatFloat(v, 'f', -1, 64), step, steps)
			}
			series = append(series, fmt.Sprintf("      - series: %s\n        values: %s\n", strconv.Quote(selector(name, m)), strconv.Quote(values)))
		}
	}
	slices.Sort(series)
	rules, err := filepath.Abs("prometheus/backup.yml")
	if err != nil {
		t.Fatal(err)
	}
	const alerts = `BackupRepository.*|BackupRestorePointsMissing|BackupRetentionNotApplied`
	expr := `count by (alertname, host, reason, exclusive, pid) (ALERTS{alertstate="firing", alertname=~"` + alerts + `"})`
	sample := func(labels string) string {
		return fmt.Sprintf("          - labels: %s\n            value: 1\n", strconv.Quote("{"+labels+"}"))
	}
	lock := fmt.Sprintf(`alertname="BackupRepositoryLockStale", exclusive="false", host=%q, pid="%d"`, holder, pid)
	text := "rule_files:\n  - " + strconv.Quote(rules) + "\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" +
		strings.Join(series, "") +
		"    promql_expr_test:\n" +
		// Within minutes: each finding of the repository, and only those.
		"      - eval_time: 15m\n        expr: " + strconv.Quote(expr) + "\n        exp_samples:\n" +
		sample(`alertname="BackupRepositoryDisagrees", host="db", reason="stale"`) +
		sample(`alertname="BackupRepositorySnapshotFromFuture", host="db"`) +
		sample(`alertname="BackupRestorePointsMissing", host="daily"`) +
		sample(`alertname="BackupRetentionNotApplied", host="pruned"`) +
		sample(`alertname="BackupRetentionNotApplied", host="pruned", reason="oldest"`) +
		// The shared lock: 23 h 45 min of checks later not yet a day old,
		// 26 h 15 min later over a day old.
		"      - eval_time: 19m\n        expr: " + strconv.Quote(`count by (alertname, host, exclusive, pid) (ALERTS{alertstate="firing", alertname="BackupRepositoryLockStale"})`) + "\n        exp_samples: []\n" +
		"      - eval_time: 21m\n        expr: " + strconv.Quote(`count by (alertname, host, exclusive, pid) (ALERTS{alertstate="firing", alertname="BackupRepositoryLockStale"})`) + "\n        exp_samples:\n" +
		sample(lock)
	p := filepath.Join(t.TempDir(), "repohealth_test.yml")
	writeFile(t, p, text)
	return p
}
