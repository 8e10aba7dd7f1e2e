package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestTextfileMode runs the textfile mode as a site without `serve` does:
// `backupwatch textfile` writes backup.prom from a real Vault, Debian's
// node_exporter serves the textfile directory, and Debian's Prometheus
// scrapes it (job "node") with the shipped rules, timings scaled as in the
// inbox suite (a minute becomes a second).
//
// Then the migration trap of issue 12: the runbook's backup-metrics.sh
// output left in the same directory defines backup_status without HELP.
// node_exporter keeps the family of the file read first and drops the
// other file's series, with node_textfile_scrape_error 0 (Debian's 1.5
// and the current release alike). When the old
// file sorts first (backup-metrics.prom < backup.prom), backupwatch's
// backup_status series are gone, the failure no longer alerts and
// BackupMetricsAbsent stays quiet (the old series remain):
// BackupMetricsIncomplete must fire. When backup.prom sorts first, the old
// file's series are the ones dropped and nothing is lost: it must not.
//
// Both generations of node_exporter: Debian's (1.5) and the current one
// (tools/bin, `make deps`).
func TestTextfileMode(t *testing.T) {
	t.Parallel()
	for _, ne := range parts.Both(t, "node_exporter") {
		t.Run(ne.String(), func(t *testing.T) {
			t.Parallel()
			testTextfileMode(t, ne)
		})
	}
}

func testTextfileMode(t *testing.T, nodeExporterPart parts.Part) {
	takeSlot(t, nil)
	nodeExporter := nodeExporterPart.Path
	prometheus := parts.DebianPath(t, "prometheus")
	dir := t.TempDir()
	vault := vaulttest.Start(t)
	bwEnv := []string{"VAULT_TOKEN=" + vault.RootToken, "BACKUPWATCH_SPOOL_DIR=" + filepath.Join(dir, "spool")}
	bw := func(args ...string) {
		t.Helper()
		cmd := exec.Command(backupwatchBin, append([]string{"--vault.address=" + vault.Addr}, args...)...)
		cmd.Env = append(os.Environ(), bwEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("backupwatch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	hourAgo := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	bw("record", "--status=success", "--host=web", "--at="+hourAgo)
	bw("record", "--status=success", "--host=auth", "--at="+hourAgo)
	bw("record", "--status=failed", "--host=db", "--exit-code=1", "--message=Fatal: unable to open repository")
	bw("restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=5m", "--at="+hourAgo)

	textDir := filepath.Join(dir, "textfile_collector")
	if err := os.Mkdir(textDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// "newhost" is expected and has no record: exported as unknown, with
	// its backup_status like every other host.
	bw("textfile", "--output="+filepath.Join(textDir, "backup.prom"), "--host=newhost")

	neAddr := freeAddr(t)
	ne := start(t, "node_exporter", nil, nodeExporter,
		"--web.listen-address="+neAddr,
		"--collector.disable-defaults", "--collector.textfile",
		"--collector.textfile.directory="+textDir)
	neMetrics := func() string {
		resp, err := httpClient.Get("http://" + neAddr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	rules, err := os.ReadFile(filepath.Join(deployDir(t), "prometheus", "backup.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rulesScaled, _ := scaleTimings(t, "backup.yml", rules, defaultScale)
	rulesCopy := filepath.Join(dir, "backup.yml")
	if err := os.WriteFile(rulesCopy, rulesScaled, 0o644); err != nil {
		t.Fatal(err)
	}
	// Prometheus gets the rules (SIGHUP) once it has scraped
	// node_exporter: before its first scrape (up to 5 s after start, not
	// scaled) the scaled `for: 5m` of BackupExporterAbsent would be over.
	promConf := filepath.Join(dir, "prometheus.yml")
	serveJob := "" // the scrape config of serve, once it runs
	writeConf := func(ruleFiles string) {
		if err := os.WriteFile(promConf, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
%s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['%s']
%s`, ruleFiles, neAddr, serveJob)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConf("")
	promAddr := freeAddr(t)
	prom := start(t, "prometheus", nil, prometheus,
		"--config.file="+promConf,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+promAddr)
	p := &tfProm{t: t, url: "http://" + promAddr}
	t.Cleanup(func() {
		if t.Failed() {
			logs := newFailureLogs(t)
			logs.add("node_exporter", ne.out.String())
			logs.add("prometheus", prom.out.String())
			logs.add("node_exporter metrics", neMetrics())
			logs.write()
			t.Logf("prometheus alerts: %v", p.alerts())
		}
	})

	const wait = 2 * time.Minute
	node := map[string]string{"job": "node", "instance": neAddr}
	waitFor(t, "Prometheus to scrape node_exporter", wait, func() (bool, string) {
		hosts := p.value(`backupwatch_hosts{job="node"}`)
		return hosts == "4", fmt.Sprintf("backupwatch_hosts = %q, want 4 (db, web, auth and the expected newhost)", hosts)
	})
	writeConf("rule_files:\n  - " + rulesCopy)
	prom.signal(t, syscall.SIGHUP)
	waitFor(t, "Prometheus to load the rules", wait, func() (bool, string) {
		var r struct {
			Data struct {
				Groups []any `json:"groups"`
			} `json:"data"`
		}
		err := p.get("/api/v1/rules", &r)
		return err == nil && len(r.Data.Groups) > 0, fmt.Sprintf("%d rule groups (%v)", len(r.Data.Groups), err)
	})

	t.Log("backup.prom alone: BackupFailed fires for db; nothing says the metrics are missing or incomplete")
	p.waitAlert("BackupFailed", map[string]string{"host": "db"}, true, wait)
	// 20 evaluations of the monitoring rules: longer than the scaled
	// `for` of BackupMetricsIncomplete (15 s) and BackupMetricsAbsent.
	// On an overloaded machine a scrape of node_exporter can time out (1s
	// here): then the metrics were really absent and the absence alerts
	// right, so a window with a failed scrape is watched again (up to
	// three times), and only a window whose every scrape worked judges.
	for attempt := 1; ; attempt++ {
		start := time.Now()
		p.waitEvaluations(20, wait)
		window := fmt.Sprintf("%ds", int(time.Since(start).Seconds())+1)
		var found []string
		for _, a := range []string{"BackupMetricsIncomplete", "BackupMetricsAbsent", "BackupExporterAbsent", "BackupTextfileScrapeError"} {
			if got := p.query(fmt.Sprintf(`count_over_time(ALERTS{alertname=%q}[%s])`, a, window)); got != nil {
				found = append(found, fmt.Sprintf("%s was pending or firing with backup.prom alone: %v", a, got))
			}
		}
		if len(found) == 0 {
			break
		}
		if failed := p.value(fmt.Sprintf(`count_over_time((up{job="node"} == 0)[%s:])`, window)); failed != "" && failed != "0" && attempt < 3 {
			t.Logf("%s scrapes of node_exporter failed in the window (the machine is overloaded): watching another window (%v)", failed, found)
			continue
		}
		for _, f := range found {
			t.Error(f)
		}
		break
	}

	t.Log("the runbook's backup-metrics.sh output, left behind, sorts before backup.prom")
	// What the runbook's script writes: no HELP, no TYPE, one status per
	// host (here, what it read before its token was revoked).
	var old strings.Builder
	for _, h := range []string{"auth", "db", "web"} {
		fmt.Fprintf(&old, "backup_last_success_age_seconds{host=%q} 3600\n", h)
		fmt.Fprintf(&old, "backup_status{host=%q,status=\"success\"} 1\n", h)
	}
	writeAtomic(t, filepath.Join(textDir, "backup-metrics.prom"), old.String())

	// All of backup.prom's backup_status series are dropped, the old
	// file's kept, and no error is reported: so do Debian's 1.5 and the
	// current release (1.12.1; node_exporter issue 3052 is still open).
	waitFor(t, "node_exporter to drop backup.prom's backup_status", wait, func() (bool, string) {
		m := neMetrics()
		n := len(regexp.MustCompile(`(?m)^backup_status\{`).FindAllString(m, -1))
		return n == 3 && !strings.Contains(m, `status="failed"`), fmt.Sprintf("%d backup_status series", n)
	})
	m := neMetrics()
	if !strings.Contains(m, "\nbackupwatch_hosts 4\n") {
		t.Errorf("node_exporter /metrics has no backupwatch_hosts 4: backup.prom's other families should stay")
	}
	scrapeError := regexp.MustCompile(`(?m)^node_textfile_scrape_error (\S+)$`).FindStringSubmatch(m)
	if scrapeError == nil || scrapeError[1] != "0" {
		t.Errorf("%s: node_textfile_scrape_error is %v in the trap, not 0: then BackupTextfileScrapeError fires too; update docs/alerts.md (BackupMetricsIncomplete), which says it stays 0", nodeExporterPart, scrapeError)
	}
	a := p.waitAlert("BackupMetricsIncomplete", node, true, wait)
	for _, want := range []string{"exported 4 hosts at " + neAddr + " (job node)", "backup_status there for no hosts", "grep -l backup_status"} {
		if !strings.Contains(a.Annotations["description"], want) {
			t.Errorf("BackupMetricsIncomplete description %q does not say %q", a.Annotations["description"], want)
		}
	}
	if a.Labels["severity"] != "critical" {
		t.Errorf("BackupMetricsIncomplete severity = %q, want critical", a.Labels["severity"])
	}
	// What it catches: db's failure is no longer seen, and the generic
	// alert for missing metrics has nothing to say.
	p.waitAlert("BackupFailed", map[string]string{"host": "db"}, false, wait)
	if got := p.query(`absent(backup_status)`); got != nil {
		t.Errorf("absent(backup_status) = %v, want nothing (the old file's series remain)", got)
	}
	if got := p.query(`ALERTS{alertname="BackupMetricsAbsent"}`); got != nil {
		t.Errorf("BackupMetricsAbsent is %v in the trap; the rule comments say it stays quiet", got)
	}

	t.Log("the same file sorting after backup.prom: its series are the ones dropped, nothing is lost")
	if err := os.Rename(filepath.Join(textDir, "backup-metrics.prom"), filepath.Join(textDir, "zz-backup-metrics.prom")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node_exporter to keep backup.prom's backup_status", wait, func() (bool, string) {
		n := len(regexp.MustCompile(`(?m)^backup_status\{`).FindAllString(neMetrics(), -1))
		return n == 4*3, fmt.Sprintf("%d backup_status series, want backup.prom's 12", n)
	})
	p.waitAlert("BackupMetricsIncomplete", node, false, wait)
	p.waitAlert("BackupFailed", map[string]string{"host": "db"}, true, wait)

	t.Log("an exporter beside the textfile, as during a migration: every dashboard query shows each host once")
	if err := os.Remove(filepath.Join(textDir, "zz-backup-metrics.prom")); err != nil {
		t.Fatal(err)
	}
	serveAddr := freeAddr(t)
	serve := start(t, "backupwatch serve", bwEnv, backupwatchBin, "--vault.address="+vault.Addr,
		"serve", "--web.listen-address="+serveAddr, "--refresh.interval=1s", "--host=newhost")
	waitFor(t, "serve to be ready", wait, func() (bool, string) {
		if done, err := serve.exited(); done {
			t.Fatalf("serve exited: %v\n%s", err, serve.out.String())
		}
		resp, err := httpClient.Get("http://" + serveAddr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	serveJob = fmt.Sprintf("  - job_name: backupwatch\n    static_configs:\n      - targets: ['%s']\n", serveAddr)
	writeConf("rule_files:\n  - " + rulesCopy)
	prom.signal(t, syscall.SIGHUP)
	waitFor(t, "Prometheus to scrape both targets", wait, func() (bool, string) {
		n := p.value(`count(count by (job, instance) (backup_status{host="db",status="failed"} == 1))`)
		return n == "2", fmt.Sprintf("%q targets export db as failed, want 2", n)
	})
	checkDashboardQueries(t, p)
}

// checkDashboardQueries runs every query of the shipped dashboard, its
// job and instance variables at "All" (.+), and fails when a host (or,
// for per-target panels, an instance) appears in more than one series,
// or a panel without a per-series legend has more than one.
func checkDashboardQueries(t *testing.T, p *tfProm) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(t), "grafana", "backupwatch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr         string `json:"expr"`
				LegendFormat string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	all := strings.NewReplacer(`"$job"`, `".+"`, `"$instance"`, `".+"`)
	legendRE := regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
	queries := 0
	for _, panel := range d.Panels {
		for _, tg := range panel.Targets {
			queries++
			var r struct {
				Data struct {
					Result []struct {
						Metric map[string]string `json:"metric"`
					} `json:"result"`
				} `json:"data"`
			}
			q := all.Replace(tg.Expr)
			if err := p.get("/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
				t.Fatalf("panel %q: %s: %v", panel.Title, q, err)
			}
			label := ""
			if m := legendRE.FindStringSubmatch(tg.LegendFormat); m != nil {
				label = m[1]
			}
			seen := map[string]int{}
			for _, s := range r.Data.Result {
				seen[s.Metric[label]]++
			}
			for v, n := range seen {
				if n > 1 {
					t.Errorf("panel %q shows %s %q %d times with both an exporter and a textfile scraped: %s", panel.Title, label, v, n, q)
				}
			}
		}
	}
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
	// The same data through the runbook's bare query has db twice: the
	// aggregation is what keeps it once.
	if n := p.value(`count(backup_last_success_age_seconds{host="db"})`); n != "2" {
		t.Errorf("backup_last_success_age_seconds{host=\"db\"}: %q series, want 2 (one per target)", n)
	}
}

// writeAtomic writes a file where node_exporter reads as another program
// would: a temporary name it ignores, then a rename.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func tail(s string) string {
	if len(s) > 20000 {
		return "[...]\n" + s[len(s)-20000:]
	}
	return s
}

// tfProm asks one Prometheus for queries and alerts.
type tfProm struct {
	t   *testing.T
	url string
}

type tfAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

func (p *tfProm) get(path string, v any) error {
	resp, err := httpClient.Get(p.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// query returns an instant query's series as "labels=value" strings (nil
// for none), sorted; the test fails if Prometheus cannot answer.
func (p *tfProm) query(q string) []string {
	out, err := p.series(q)
	if err != nil {
		p.t.Fatalf("query %s: %v", q, err)
	}
	return out
}

func (p *tfProm) series(q string) ([]string, error) {
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := p.get("/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		return nil, err
	}
	var out []string
	for _, s := range r.Data.Result {
		v := ""
		if len(s.Value) == 2 {
			v, _ = s.Value[1].(string)
		}
		out = append(out, fmt.Sprintf("%v=%s", s.Metric, v))
	}
	sort.Strings(out)
	return out, nil
}

// value is the value of a query's only series, or "" (also while
// Prometheus does not answer).
func (p *tfProm) value(q string) string {
	got, err := p.series(q)
	if err != nil || len(got) != 1 {
		return ""
	}
	return got[0][strings.LastIndex(got[0], "=")+1:]
}

func (p *tfProm) alerts() []tfAlert {
	var r struct {
		Data struct {
			Alerts []tfAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := p.get("/api/v1/alerts", &r); err != nil {
		return nil
	}
	return r.Data.Alerts
}

// waitAlert waits until alert (with the given labels) is firing, or until
// no such alert is pending or firing, and returns the firing one.
func (p *tfProm) waitAlert(name string, labels map[string]string, firing bool, timeout time.Duration) tfAlert {
	p.t.Helper()
	var found tfAlert
	what := map[bool]string{true: "to fire", false: "to be neither pending nor firing"}[firing]
	waitFor(p.t, fmt.Sprintf("%s%v %s", name, labels, what), timeout, func() (bool, string) {
		all := p.alerts()
		var states []string
		present := false
		for _, a := range all {
			if a.Labels["alertname"] != name || !matches(a.Labels, labels) {
				continue
			}
			present = true
			states = append(states, a.State)
			if a.State == "firing" {
				found = a
				if firing {
					return true, ""
				}
			}
		}
		if !firing && !present {
			return true, ""
		}
		return false, fmt.Sprintf("%s: %v; all alerts: %d", name, states, len(all))
	})
	return found
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// waitEvaluations waits for n more evaluations of the backup-monitoring
// rule group.
func (p *tfProm) waitEvaluations(n int, timeout time.Duration) {
	p.t.Helper()
	q := `sum(prometheus_rule_group_iterations_total{rule_group=~".*;backup-monitoring"})`
	count := func() int {
		// Prometheus scrapes itself only when told to; its own /metrics is
		// read directly instead.
		resp, err := httpClient.Get(p.url + "/metrics")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		re := regexp.MustCompile(`(?m)^prometheus_rule_group_iterations_total\{rule_group="[^"]*;backup-monitoring"\} (\S+)$`)
		m := re.FindSubmatch(b)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return int(v)
	}
	from := count()
	waitFor(p.t, fmt.Sprintf("%d evaluations (%s)", n, q), timeout, func() (bool, string) {
		c := count()
		return from >= 0 && c >= from+n, fmt.Sprintf("%d evaluations so far, from %d", c, from)
	})
}
