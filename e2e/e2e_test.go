package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	deployfiles "github.com/golemtrust/backupwatch/deploy"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// backupwatchBin is built once for the whole package by TestMain, and
// serveHasExternalURL says whether its serve takes --web.external-url.
var (
	backupwatchBin      string
	serveHasExternalURL bool
)

// defaultParallel is how many stacks run at once unless -test.parallel
// says otherwise: each is five programs that mostly wait. The harness
// keeps that limit itself (slots_test.go), long scenarios first.
const defaultParallel = "6"

func TestMain(m *testing.M) {
	flag.Parse()
	takeOverParallel()
	dir, err := os.MkdirTemp("", "backupwatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	backupwatchBin = filepath.Join(dir, "backupwatch")
	mailsinkBin = filepath.Join(dir, "mailsink")
	builds := []*exec.Cmd{
		exec.Command("go", "build", "-o", backupwatchBin, "./cmd/backupwatch"),
		// tools/mailsink is its own module (the main go.sum never sees
		// go-smtp); -mod=readonly keeps its committed go.sum.
		exec.Command("go", "build", "-mod=readonly", "-o", mailsinkBin, "."),
	}
	builds[0].Dir = sourceRoot()
	builds[1].Dir = "../tools/mailsink"
	builds[1].Env = append(os.Environ(), "GOWORK=off")
	for _, b := range builds {
		if out, err := b.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %s (in %s): %v\n%s", strings.Join(b.Args, " "), b.Dir, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	help, _ := exec.Command(backupwatchBin, "serve", "--help").CombinedOutput()
	serveHasExternalURL = strings.Contains(string(help), "--web.external-url")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// httpClient bounds every request to a part, so that one that accepts a
// connection and never answers cannot hold a wait past its deadline.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// debian finds one of Debian's binaries, or fails with how to get it.
func debian(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found: run `make deps` (installs Debian's prometheus and prometheus-alertmanager)", name)
	return ""
}

// sourceRoot is the tree whose backupwatch and deploy/ files the suite
// runs: this one, or $BACKUPWATCH_E2E_ROOT (e.g. `git archive` of an older
// commit, to measure what it sends).
func sourceRoot() string {
	d := os.Getenv("BACKUPWATCH_E2E_ROOT")
	if d == "" {
		d = ".."
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		return d
	}
	return abs
}

// deployDir is where the shipped files are read from.
func deployDir(*testing.T) string { return filepath.Join(sourceRoot(), "deploy") }

// defaultScale turns every minute of the shipped timings into a second.
const defaultScale = 1.0 / 60

// durationKeys are the timings scaled in copies of the shipped files: the
// route's and the rules' (Prometheus' and Alertmanager's own durations).
var durationLineRE = regexp.MustCompile(`^(\s*(?:-\s+)?(?:group_wait|group_interval|repeat_interval|resolve_timeout|interval|for|keep_firing_for):\s*)(['"]?)([0-9][0-9smhdwy]*)(['"]?)(\s*(?:#.*)?)$`)

var rangeRE = regexp.MustCompile(`\[[0-9]+[smhdwy][0-9smhdwy]*\]`)

// scaleTimings multiplies every timing in a copy of a shipped file by
// scale; nothing else changes (the test fails if nothing matched, as
// when the file's layout has changed). It returns the copy and the scaled
// values by key.
func scaleTimings(t *testing.T, file string, src []byte, scale float64) ([]byte, map[string][]time.Duration) {
	t.Helper()
	lines := strings.Split(string(src), "\n")
	found := map[string][]time.Duration{}
	for i, l := range lines {
		m := durationLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		d, err := model.ParseDuration(m[3])
		if err != nil {
			t.Fatalf("%s line %d: %q: %v", file, i+1, l, err)
		}
		key := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(m[1]), "-"))
		key = strings.TrimSuffix(strings.TrimSpace(key), ":")
		scaled := time.Duration(math.Round(float64(d) * scale / float64(time.Millisecond)))
		scaled *= time.Millisecond
		if d > 0 && scaled < 10*time.Millisecond {
			scaled = 10 * time.Millisecond
		}
		found[key] = append(found[key], scaled)
		if d == 0 {
			continue
		}
		lines[i] = m[1] + m[2] + fmt.Sprintf("%dms", scaled.Milliseconds()) + m[4] + m[5]
	}
	if len(found) == 0 {
		t.Fatalf("scaling %s changed nothing: has its layout changed?", file)
	}
	// Range selectors ([30m]) are Prometheus time too: scaled alike.
	out := rangeRE.ReplaceAllStringFunc(strings.Join(lines, "\n"), func(r string) string {
		d, err := model.ParseDuration(r[1 : len(r)-1])
		if err != nil || d == 0 {
			return r
		}
		ms := max(int64(math.Round(float64(d)*scale/float64(time.Millisecond))), 10)
		found["range"] = append(found["range"], time.Duration(ms)*time.Millisecond)
		return fmt.Sprintf("[%dms]", ms)
	})
	return []byte(out), found
}

// replaceAll replaces every match of re in s, failing unless there is one.
func replaceAll(t *testing.T, file, s, re, repl string) string {
	t.Helper()
	r := regexp.MustCompile(re)
	if !r.MatchString(s) {
		t.Fatalf("the shipped %s has no %s", file, re)
	}
	return r.ReplaceAllLiteralString(s, repl)
}

// stackOptions say what a scenario's deployment holds before it starts.
type stackOptions struct {
	scale         float64  // every shipped timing times this; default defaultScale
	hosts         []string // each records a success an hour old before the exporter starts
	expected      []string // --host flags of serve besides hosts (expected, never reported)
	noRestoreTest bool     // no restore test recorded (a fresh install)
	slackFailing  bool     // Slack answers 500 from the start
	teamRoutes    bool     // alertmanager.yml's team routes example uncommented
	config        string   // serve's --config.file, when not empty
	bulk          int      // hosts written straight into Vault besides hosts (a large fleet), a success an hour old
	alertmanager  string   // the Alertmanager binary; Debian's when empty
	prometheus    string   // the Prometheus binary; Debian's when empty
	// long is the slot kept for a long scenario (longScenario), so that
	// its stack starts before the short ones waiting.
	long *reservation
	// amEdit changes the copy of the shipped alertmanager.yml before its
	// timings are scaled (receivers added, as a site would).
	amEdit func(am string) string
}

// stack is every part of a deployment, running.
type stack struct {
	t        *testing.T
	opts     stackOptions
	dir      string
	vault    *vaulttest.Server
	serve    *process
	serveArg []string
	serveURL string
	promURL  string
	amURL    string
	prom     *process
	am       *process
	slack    *slackStub
	mail     *mailsink
	owner    string // the backup owner's address from the shipped file

	mu    sync.Mutex
	parts []*process

	// Timings of this stack (scaled): the longest group_interval and `for`.
	groupInterval time.Duration
	groupWait     time.Duration
	maxFor        time.Duration
	settle        time.Duration // a few group intervals: nothing more may come
	deadline      time.Duration // the bound of every wait for a notification
	severity      map[string]string
}

// env is what every backupwatch process gets: the Vault token through the
// environment (never a flag), and a spool of its own.
func (s *stack) env() []string {
	return []string{"VAULT_TOKEN=" + s.vault.RootToken, "BACKUPWATCH_SPOOL_DIR=" + filepath.Join(s.dir, "spool")}
}

// bw runs one backupwatch command against the test's Vault.
func (s *stack) bw(args ...string) {
	s.t.Helper()
	if out, err := s.bwErr(args...); err != nil {
		s.t.Fatalf("backupwatch %.300s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (s *stack) bwErr(args ...string) ([]byte, error) {
	cmd := exec.Command(backupwatchBin, append([]string{"--vault.address=" + s.vault.Addr}, args...)...)
	cmd.Env = append(os.Environ(), s.env()...)
	return cmd.CombinedOutput()
}

// bwAll runs many backupwatch commands, a few at a time, as many hosts
// recording their results would.
func (s *stack) bwAll(cmds [][]string) {
	s.t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	next := make(chan []string)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for args := range next {
				if out, err := s.bwErr(args...); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("backupwatch %.200s: %v: %.500s", strings.Join(args, " "), err, out))
					mu.Unlock()
				}
			}
		}()
	}
	for _, c := range cmds {
		next <- c
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		s.t.Fatalf("%d of %d commands failed, first: %s", len(errs), len(cmds), errs[0])
	}
}

func (s *stack) addPart(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts = append(s.parts, p)
}

func startStack(t *testing.T, o stackOptions) *stack {
	takeSlot(t, o.long)
	if o.scale == 0 {
		o.scale = defaultScale
	}
	s := &stack{t: t, opts: o, dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			s.report()
		}
	})
	deploy := deployDir(t)
	s.vault = vaulttest.Start(t)
	hourAgo := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	var cmds [][]string
	for _, h := range o.hosts {
		cmds = append(cmds, []string{"record", "--status=success", "--host=" + h, "--at=" + hourAgo})
	}
	s.bwAll(cmds)
	writeBulk(t, s.vault, o.bulk, hourAgo)
	if !o.noRestoreTest {
		s.bw("restore-test", "record", "--result=passed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m",
			"--at="+time.Now().UTC().Add(-24*time.Hour).Format(time.RFC3339))
	}
	minute := time.Duration(float64(time.Minute) * o.scale)

	// The receivers people would read.
	s.slack = newSlackStub(t)
	s.slack.failing.Store(o.slackFailing)
	s.mail = startMailsink(t, filepath.Join(s.dir, "mail"))
	s.addPart(s.mail.p)

	// Alertmanager with the shipped configuration: the Slack URL, the SMTP
	// smarthost and the template path point into the test; the relay here
	// offers no TLS, so smtp_require_tls is false; the timings are scaled.
	// Routes, grouping, inhibition, receivers and templates are as shipped.
	amShipped, err := os.ReadFile(filepath.Join(deploy, "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*- to: '([^']+)'`).FindSubmatch(amShipped)
	if m == nil {
		t.Fatal("no `- to: '...'` in the shipped alertmanager.yml")
	}
	s.owner = string(m[1])
	urlFile := filepath.Join(s.dir, "slack-webhook-url")
	if err := os.WriteFile(urlFile, []byte(s.slack.srv.URL+"/services/T000/B000/XXXX\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.teamRoutes {
		c, err := deployfiles.Uncomment(string(amShipped), "team routes example")
		if err != nil {
			t.Fatal(err)
		}
		amShipped = []byte(c)
	}
	if o.amEdit != nil {
		amShipped = []byte(o.amEdit(string(amShipped)))
	}
	amScaled, amTimes := scaleTimings(t, "alertmanager.yml", amShipped, o.scale)
	am := string(amScaled)
	am = replaceAll(t, "alertmanager.yml", am, `api_url_file:\s*'[^']*'`, "api_url_file: '"+urlFile+"'")
	am = replaceAll(t, "alertmanager.yml", am, `smtp_smarthost:\s*'[^']*'`, "smtp_smarthost: '"+s.mail.addr+"'")
	am = replaceAll(t, "alertmanager.yml", am, `smtp_require_tls:\s*true`, "smtp_require_tls: false")
	am = strings.ReplaceAll(am, "/etc/prometheus/alertmanager_templates/", filepath.Join(deploy, "alertmanager")+"/")
	amConf := filepath.Join(s.dir, "alertmanager.yml")
	if err := os.WriteFile(amConf, []byte(am), 0o644); err != nil {
		t.Fatal(err)
	}
	s.groupInterval = slices.Max(amTimes["group_interval"])
	s.groupWait = slices.Max(amTimes["group_wait"])
	amAddr := freeAddr(t)
	s.amURL = "http://" + amAddr
	amBin := o.alertmanager
	if amBin == "" {
		amBin = debian(t, "prometheus-alertmanager")
	}
	s.am = start(t, "alertmanager", nil, amBin,
		"--config.file="+amConf,
		"--storage.path="+filepath.Join(s.dir, "alertmanager"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=",
		"--log.level=debug")
	s.addPart(s.am)

	// backupwatch serve, reading Vault every (scaled) minute, its default,
	// or every second (its least) on a stack scaled below 1/60.
	serveAddr := freeAddr(t)
	s.serveURL = "http://" + serveAddr
	s.serveArg = []string{"--vault.address=" + s.vault.Addr, "serve", "--web.listen-address=" + serveAddr,
		"--refresh.interval=" + max(minute, time.Second).String(), "--state.dir=" + filepath.Join(s.dir, "state")}
	if serveHasExternalURL {
		s.serveArg = append(s.serveArg, "--web.external-url="+s.serveURL)
	}
	for _, h := range append(slices.Clone(o.hosts), o.expected...) {
		s.serveArg = append(s.serveArg, "--host="+h)
	}
	if o.config != "" {
		f := filepath.Join(s.dir, "config.yml")
		if err := os.WriteFile(f, []byte(o.config), 0o644); err != nil {
			t.Fatal(err)
		}
		s.serveArg = append(s.serveArg, "--config.file="+f)
	}
	s.startServe()

	// Prometheus scraping backupwatch as job "backupwatch" every (scaled)
	// minute, docs/deployment.md's 60s, with the shipped rules scaled.
	rules, err := os.ReadFile(filepath.Join(deploy, "prometheus", "backup.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rulesScaled, ruleTimes := scaleTimings(t, "backup.yml", rules, o.scale)
	s.maxFor = slices.Max(ruleTimes["for"])
	s.severity = severities(string(rules))
	rulesCopy := filepath.Join(s.dir, "backup.yml")
	if err := os.WriteFile(rulesCopy, rulesScaled, 0o644); err != nil {
		t.Fatal(err)
	}
	// Prometheus starts without the rules and gets them (SIGHUP) once it
	// scrapes backupwatch: its first scrape comes up to 5 s after start
	// (its target reload interval, not scaled), which the scaled `for: 5m`
	// of BackupExporterAbsent would otherwise take for a missing exporter.
	// The scrape interval is a scaled minute, but never below serve's
	// refresh (a second): scraping faster reads the same snapshot again,
	// and its timeout (at most the interval, Prometheus' rule) of 250 ms
	// on a stack scaled to 1/240 was missed on a busy machine for
	// BackupExporterDown's scaled 5 minutes (1.25 s): a page no backup
	// caused. The rules are still evaluated every scaled minute.
	scrape := max(minute, time.Second)
	promConf := filepath.Join(s.dir, "prometheus.yml")
	writeConf := func(rules string) {
		conf := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[5]s
%[2]s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['%[3]s']
scrape_configs:
  - job_name: backupwatch
    static_configs:
      - targets: ['%[4]s']
`, model.Duration(scrape), rules, amAddr, serveAddr, model.Duration(minute))
		if err := os.WriteFile(promConf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConf("")
	promAddr := freeAddr(t)
	s.promURL = "http://" + promAddr
	promBin := o.prometheus
	if promBin == "" {
		promBin = debian(t, "prometheus")
	}
	s.prom = start(t, "prometheus", nil, promBin,
		"--config.file="+promConf,
		"--storage.tsdb.path="+filepath.Join(s.dir, "prometheus"),
		"--web.listen-address="+promAddr)
	s.addPart(s.prom)

	s.settle = 3 * s.groupInterval
	// No scenario waits on a `for` longer than BackupStatusUnknown's hour.
	s.deadline = min(s.maxFor, 60*minute) + s.groupWait + 6*s.groupInterval + 30*time.Second
	s.waitReady(s.am, s.amURL+"/-/ready")
	s.waitReady(s.prom, s.promURL+"/-/ready")
	waitFor(t, "Prometheus to scrape backupwatch", s.deadline, func() (bool, string) {
		up := s.promQuery(`up{job="backupwatch"}`)
		n := s.promQuery(`count(backup_status{status="success"} == 1) or vector(0)`)
		return up == "1" && n == fmt.Sprint(len(o.hosts)+o.bulk), fmt.Sprintf("up=%q hosts with success=%q of %d", up, n, len(o.hosts)+o.bulk)
	})
	writeConf("rule_files:\n  - " + rulesCopy)
	s.prom.signal(t, syscall.SIGHUP)
	waitFor(t, "Prometheus to load and evaluate the rules", s.deadline, func() (bool, string) {
		resp, err := httpClient.Get(s.promURL + "/api/v1/rules")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Groups []struct {
					LastEvaluation time.Time `json:"lastEvaluation"`
				} `json:"groups"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return false, err.Error()
		}
		evaluated := 0
		for _, g := range r.Data.Groups {
			if !g.LastEvaluation.IsZero() {
				evaluated++
			}
		}
		return len(r.Data.Groups) > 0 && evaluated == len(r.Data.Groups), fmt.Sprintf("%d rule groups, %d evaluated", len(r.Data.Groups), evaluated)
	})
	// Prometheus finds its Alertmanager as it finds targets (up to 5 s
	// after start or reload); an alert fired before that waits for the
	// resend.
	waitFor(t, "Prometheus to find Alertmanager", s.deadline, func() (bool, string) {
		resp, err := httpClient.Get(s.promURL + "/api/v1/alertmanagers")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Active []any `json:"activeAlertmanagers"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return false, err.Error()
		}
		return len(r.Data.Active) > 0, fmt.Sprintf("%d active", len(r.Data.Active))
	})

	return s
}

// startServe starts (or restarts) backupwatch serve with the stack's flags.
func (s *stack) startServe() {
	s.t.Helper()
	s.serve = start(s.t, "backupwatch serve", s.env(), backupwatchBin, s.serveArg...)
	s.addPart(s.serve)
	s.waitReady(s.serve, s.serveURL+"/-/ready")
}

// severities maps each alert of the rules file to its severity label.
func severities(rules string) map[string]string {
	out := map[string]string{}
	alertRE := regexp.MustCompile(`^\s*- alert:\s*(\S+)`)
	sevRE := regexp.MustCompile(`^\s*severity:\s*['"]?(\w+)`)
	cur := ""
	for line := range strings.Lines(rules) {
		if m := alertRE.FindStringSubmatch(line); m != nil {
			cur = m[1]
		} else if m := sevRE.FindStringSubmatch(line); m != nil && cur != "" && out[cur] != "critical" {
			out[cur] = m[1] // an alert that pages at any severity is critical (BackupFailed warns before it pages)
		}
	}
	return out
}

// waitReady waits for a part's readiness endpoint, failing early if it exits.
func (s *stack) waitReady(p *process, u string) {
	s.t.Helper()
	waitFor(s.t, p.name+" to be ready at "+u, 90*time.Second, func() (bool, string) {
		if done, err := p.exited(); done {
			s.t.Fatalf("%s exited: %v\n%s", p.name, err, p.out.String())
		}
		resp, err := httpClient.Get(u)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// report prints what every part logged and received, for a failed test.
func (s *stack) report() {
	s.mu.Lock()
	parts := slices.Clone(s.parts)
	s.mu.Unlock()
	logs := partsLogs(s.t, parts, s.slack)
	if s.mail != nil {
		var b strings.Builder
		for _, m := range s.mail.snapshot() {
			fmt.Fprintf(&b, "to %v: %s\n", m.To, m.Title)
		}
		logs.add("emails", b.String())
	}
	if s.promURL != "" {
		logs.add("prometheus alerts", fmt.Sprint(s.promAlerts()))
	}
	logs.write()
}

// promQuery returns the value of an instant query's only series, or "".
func (s *stack) promQuery(q string) string {
	resp, err := httpClient.Get(s.promURL + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 || len(r.Data.Result[0].Value) != 2 {
		return ""
	}
	v, _ := r.Data.Result[0].Value[1].(string)
	return v
}

// promLabels returns the label names Prometheus knows.
func (s *stack) promLabels() map[string]bool {
	out := map[string]bool{}
	resp, err := httpClient.Get(s.promURL + "/api/v1/labels")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	var r struct {
		Data []string `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) == nil {
		for _, l := range r.Data {
			out[l] = true
		}
	}
	return out
}

// promAlerts summarises Prometheus's alerts, for wait messages.
func (s *stack) promAlerts() string {
	resp, err := httpClient.Get(s.promURL + "/api/v1/alerts")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err.Error()
	}
	count := map[string]int{}
	for _, a := range r.Data.Alerts {
		count[a.Labels["alertname"]+"="+a.State]++
	}
	var out []string
	for k, n := range count {
		out = append(out, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

// serveMetrics returns the exporter's /metrics as text.
func (s *stack) serveMetrics() string {
	resp, err := httpClient.Get(s.serveURL + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var failedSeriesRE = regexp.MustCompile(`(?m)^backup_status\{[^}]*status="failed"[^}]*\} 1$`)

// exportedFailed is how many hosts the exporter serves as failed now.
func (s *stack) exportedFailed() int {
	return len(failedSeriesRE.FindAllString(s.serveMetrics(), -1))
}

// atOnce makes what record records happen at once as Prometheus sees it:
// Prometheus is paused (SIGSTOP) while the results are recorded through
// backupwatch, and resumed once the exporter serves failed hosts (so
// they fall into one scrape, as a thousand failures within a second do
// at the shipped 60s scrape interval). It is resumed just after a tick of
// the rule group evaluating BackupFailed: an alert is stamped with its
// evaluation's tick, and Alertmanager sends a new group at once, without
// its group_wait, when the first alert looks older than group_wait (a
// late tick after a pause would make it so, sending the first batch of 64
// alerts on its own). Nothing else is changed: the scrapes and
// evaluations Prometheus misses meanwhile are simply late.
//
// Recoveries (failed == 0) are released instead just after Alertmanager's
// last flush of the group (its Slack post), a whole group_interval before
// the next: resolved alerts arriving across a flush (500 come in 8
// batches) would be told in two messages.
func (s *stack) atOnce(what string, record func(), failed int) {
	s.t.Helper()
	last, every := s.ruleGroupTick("BackupFailed")
	if failed == 0 {
		if flushed := s.slack.lastAccepted(); !flushed.IsZero() {
			last, every = flushed, s.groupInterval
		}
	}
	s.prom.pause(s.t)
	resumed := false
	defer func() {
		if !resumed {
			s.prom.resume(s.t)
		}
	}()
	record()
	waitFor(s.t, fmt.Sprintf("the exporter to serve %d failed hosts (%s)", failed, what), s.deadline, func() (bool, string) {
		n := s.exportedFailed()
		return n == failed, fmt.Sprintf("%d failed", n)
	})
	if every > 0 {
		next := last.Add(every * (time.Since(last)/every + 1))
		time.Sleep(time.Until(next) + every/20)
	}
	s.prom.resume(s.t)
	resumed = true
}

// ruleGroupTick returns when the rule group holding alert last started
// an evaluation, and its interval (zero if Prometheus does not say).
func (s *stack) ruleGroupTick(alert string) (time.Time, time.Duration) {
	last, every, _ := s.ruleGroup(alert)
	return last, every
}

// ruleGroup returns when the rule group holding alert last started an
// evaluation, its interval and how long that evaluation took.
func (s *stack) ruleGroup(alert string) (last time.Time, every, took time.Duration) {
	resp, err := httpClient.Get(s.promURL + "/api/v1/rules")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Groups []struct {
				EvaluationTime float64   `json:"evaluationTime"`
				Interval       float64   `json:"interval"`
				LastEvaluation time.Time `json:"lastEvaluation"`
				Rules          []struct {
					Name string `json:"name"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil {
		return
	}
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			if rule.Name == alert && !g.LastEvaluation.IsZero() {
				return g.LastEvaluation, time.Duration(g.Interval * float64(time.Second)), time.Duration(g.EvaluationTime * float64(time.Second))
			}
		}
	}
	return
}

// mark is how many notifications each receiver had got.
type mark struct{ slack, slackRejected, email int }

func (s *stack) mark() mark {
	posts, rejected := s.slack.snapshot()
	return mark{len(posts), len(rejected), len(s.mail.snapshot())}
}

// since returns what each receiver got after m.
func (s *stack) since(m mark) (slack, slackRejected, email []note) {
	posts, rejected := s.slack.snapshot()
	for _, e := range s.mail.snapshot()[m.email:] {
		if !slices.Contains(e.To, s.owner) {
			e.note.Title = "(to " + strings.Join(e.To, ",") + ") " + e.note.Title
		}
		email = append(email, e.note)
	}
	return posts[m.slack:], rejected[m.slackRejected:], email
}

// TestAlertsReachPeople runs every part for real and checks the runbook's
// promises: a failed backup, an overdue backup and a failed restore test
// reach Slack and the backup owner's email; so does the monitoring going
// down; and no secret reaches a log or notification. (What exactly a
// person receives, and how often, is TestInbox's.)
func TestAlertsReachPeople(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{hosts: []string{"db", "auth", "web"}})

	t.Log("db records a failed backup: BackupFailed reaches Slack and email")
	m := s.mark()
	s.bw("record", "--status=failed", "--host=db", "--exit-code=1", "--message=Fatal: unable to open repository")
	s.waitFor(m, "BackupFailed", "db", false)

	t.Log("a host whose last success is 25 hours old: BackupNotRunIn24Hours")
	m = s.mark()
	s.bw("record", "--status=success", "--host=old", "--at="+time.Now().Add(-25*time.Hour).UTC().Format(time.RFC3339))
	s.waitFor(m, "BackupNotRunIn24Hours", "old", false)

	t.Log("a restore test recorded as failed: RestoreTestFailed")
	m = s.mark()
	s.bw("restore-test", "record", "--result=failed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m", "--notes=checksum mismatch in pack")
	s.waitFor(m, "RestoreTestFailed", "db.golemtrust.am", false)

	// Every backup metric the shipped rules and dashboard use is one the
	// real exporter exports (the metric contract, checked from both ends),
	// now that a backup and a restore test have failed, a backup has run
	// through `run` and a job has a recorded schedule (some series exist
	// only then). Names that are labels (backup_job) are not metrics.
	// The backup is a real restic backup (its --json summary gives the
	// processed totals), and the repository is checked by repo-check twice:
	// once as it is (with a data check) and once under a name it cannot
	// open, so the witness's failure series exist too.
	restic := debian(t, "restic")
	repo, pw, src := filepath.Join(s.dir, "repo"), filepath.Join(s.dir, "restic-password"), filepath.Join(s.dir, "src")
	if err := os.WriteFile(pw, []byte("e2e-repository-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "data"), []byte("something worth keeping\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(restic, "-r", repo, "--password-file", pw, "init").CombinedOutput(); err != nil {
		t.Fatalf("restic init: %v\n%s", err, out)
	}
	s.bw("run", "--host=web", "--log.file=", "--lock.file="+filepath.Join(s.dir, "web.lock"), "--",
		restic, "-r", repo, "--password-file", pw, "--host", "web", "backup", "--json", src)
	s.bw("repo-check", "--repo="+repo, "--password-file="+pw, "--read-data-subsets=2", "--restic.binary="+restic)
	if out, err := s.bwErr("repo-check", "--repo="+filepath.Join(s.dir, "no-such-repo"), "--name=broken", "--password-file="+pw, "--restic.binary="+restic); err == nil {
		t.Fatalf("repo-check of a missing repository succeeded:\n%s", out)
	}
	s.bw("record", "--status=success", "--host=sched", "--job=files", "--every=24h")
	waitFor(t, "the run, the repository checks and the schedule to be scraped", s.deadline, func() (bool, string) {
		a := s.promQuery(`count(backup_last_snapshot_files_processed{host="web"})`)
		r := s.promQuery(`count(backup_repository_check_failure_info)`)
		d := s.promQuery(`count(backup_repository_data_check_passed)`)
		j := s.promQuery(`count(backup_status{host="sched",backup_job="files"})`)
		return a == "1" && r != "" && d != "" && j != "", "processed series: " + a + ", check failure: " + r + ", data check: " + d + ", job series: " + j
	})
	labels := s.promLabels()
	// Series this stack does not bring about, and the test that exports them.
	elsewhere := map[string]string{
		"backup_repository_data_check_failure_info":       "internal/collector's TestWitnessSeries (a failed data check)",
		"backup_repository_host_future_snapshots":         "internal/collector's TestWitnessSeries; internal/repocheck's TestFutureSnapshotBlindsNothing (a snapshot dated a year ahead)",
		"backup_repository_host_restore_points_missing":   "internal/collector's TestWitnessSeries; internal/repocheck's TestRetention (a retention: policy declared)",
		"backup_repository_host_snapshots_allowed":        "internal/collector's TestWitnessSeries; internal/repocheck's TestRetention (a retention: policy declared)",
		"backup_repository_oldest_lock_timestamp_seconds": "internal/collector's TestWitnessSeries; internal/repocheck's TestStaleLocks (a lock left by a killed restic)",
		"backup_repository_job_snapshots":                 "internal/collector's TestWitnessSeries; deploy/prometheus/testdata/retention_jobs_test.yml (a job's own snapshots, tag backupwatch-job=)",
		"backup_repository_job_snapshots_allowed":         "internal/collector's TestWitnessSeries; deploy/prometheus/testdata/retention_jobs_test.yml (a retention: policy per job)",
		"backup_repository_job_restore_points_missing":    "internal/collector's TestWitnessSeries; deploy/prometheus/testdata/retention_jobs_test.yml (a retention: policy per job)",
		"backup_paused_until_timestamp_seconds":           "internal/collector's TestPausesAndLabels; TestInboxOnCall (a pause)",
		"backup_host_info":                                "internal/collector's TestPausesAndLabels; TestInboxOnCall (labels in the config file)",
		"backup_page_after_failures":                      "internal/collector's TestEscalationSeries; TestInboxEscalation (page_after in the config file)",
		"backup_page_after_seconds":                       "internal/collector's TestEscalationSeries; TestInboxEscalation (page_after in the config file)",
		"backup_last_run_maintenance":                     "internal/collector's TestMaintenanceSeries; cmd/backupwatch's TestRunMaintenanceJobs (run --job prune -- restic forget --prune)",
		"backup_storm_min_hosts_override":                 "not exported: a site's own recording rule, when it wants another storm threshold (docs/alerts.md, BackupFailuresWidespread); deploy/prometheus/testdata/storm_test.yml",
		"backup_storm_min_fraction_override":              "not exported: a site's own recording rule, when it wants another storm threshold (docs/alerts.md, BackupFailuresWidespread); deploy/prometheus/testdata/storm_test.yml",
		"backupwatch_replica":                             "not a series: the label the HA relabelling sets (docs/deployment.md, High availability), aggregated away by the rules; TestHA and deploy/prometheus/testdata/replicas_test.yml",

		// Issue 19's oldest snapshot beyond the policy; issue 20's storm per repository.
		"backup_repository_host_oldest_snapshot_beyond_policy": "internal/collector's TestWitnessJobSeries; internal/repocheck's TestRetentionOldest (a retention: policy declared); deploy/prometheus/testdata/retention_oldest_test.yml",
		"backup_repository_job_oldest_snapshot_beyond_policy":  "internal/collector's TestWitnessJobSeries; deploy/prometheus/testdata/retention_oldest_test.yml (a retention: policy per job)",
		"backup_storm_repository_min_hosts_override":           "not exported: a site's own recording rule, when it wants another repository storm threshold (docs/alerts.md, BackupFailuresWidespread); deploy/prometheus/testdata/repostorm_test.yml",
		"backup_storm_repository_min_fraction_override":        "not exported: a site's own recording rule, when it wants another repository storm threshold (docs/alerts.md, BackupFailuresWidespread); deploy/prometheus/testdata/repostorm_test.yml",
	}
	for _, name := range referencedMetrics(t, filepath.Join(deployDir(t), "prometheus", "backup.yml"), filepath.Join(deployDir(t), "grafana", "backupwatch.json")) {
		if labels[name] || elsewhere[name] != "" {
			continue
		}
		if got := s.promQuery("count(" + name + ")"); got == "" {
			t.Errorf("%s is used by the rules or the dashboard but backupwatch does not export it", name)
		}
	}

	t.Log("Vault stops: BackupStoreUnreachable, and no host turns unknown")
	m = s.mark()
	s.vault.Stop(t)
	s.waitFor(m, "BackupStoreUnreachable", "", false)
	if got := s.promQuery(`count(backup_status{status="unknown"} == 1) or vector(0)`); got != "0" {
		t.Errorf("hosts exported as unknown while Vault is down: %s, want 0 (the last values read are kept)", got)
	}

	t.Log("the exporter stops: BackupExporterDown")
	m = s.mark()
	s.serve.stop(t)
	s.waitFor(m, "BackupExporterDown", "", false)

	// No secret anywhere a person or another program reads.
	var seen strings.Builder
	for _, p := range s.parts {
		seen.WriteString(p.out.String())
	}
	seen.WriteString(s.slack.log.String())
	for _, m := range s.mail.snapshot() {
		seen.WriteString(m.Raw)
	}
	if strings.Contains(seen.String(), s.vault.RootToken) {
		t.Errorf("the Vault token appears in a log or notification")
	}
}

// waitFor waits for a notification about alert (mentioning word, when
// given) on Slack and by email to the owner, received after m.
func (s *stack) waitFor(m mark, alert, word string, resolved bool) {
	s.t.Helper()
	status := map[bool]string{false: "firing", true: "resolved"}[resolved]
	about := func(notes []note) bool {
		for _, n := range notes {
			if n.Alertname == alert && n.Status == status && (word == "" || strings.Contains(n.Title+" "+strings.Join(n.Parts, " "), word)) {
				return true
			}
		}
		return false
	}
	waitFor(s.t, fmt.Sprintf("%s %s %s on Slack and by email", status, alert, word), s.deadline, func() (bool, string) {
		slack, _, email := s.since(m)
		return about(slack) && about(email), fmt.Sprintf("slack %v, email %v; prometheus %s", slack, email, s.promAlerts())
	})
}

// referencedMetrics returns the backup_* and backupwatch_* metric names the
// given files use.
func referencedMetrics(t *testing.T, files ...string) []string {
	t.Helper()
	// Names with a colon are recording rules' outputs, which Prometheus
	// makes; *_override are recording rules a site may add (docs/alerts.md).
	re := regexp.MustCompile(`\bbackup(?:watch)?_[a-z_:]+`)
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllString(string(b), -1) {
			if strings.Contains(m, ":") || strings.HasSuffix(m, "_override") {
				continue
			}
			seen[m] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
