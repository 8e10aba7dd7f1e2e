package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// backupwatchBin is built once for the whole package by TestMain.
var backupwatchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "backupwatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	backupwatchBin = filepath.Join(dir, "backupwatch")
	build := exec.Command("go", "build", "-o", backupwatchBin, "github.com/golemtrust/backupwatch/cmd/backupwatch")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build backupwatch: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitLong bounds every wait for something to travel through Prometheus
// and Alertmanager; it is a deadline, not a performance claim.
const waitLong = 90 * time.Second

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

// shortenRules rewrites a copy of the shipped rules: group intervals to 1s
// and every non-zero `for` to 3s. Nothing else changes (checked).
func shortenRules(t *testing.T, src []byte) []byte {
	t.Helper()
	in := strings.Split(string(src), "\n")
	out := slices.Clone(in)
	changed := 0
	for i, l := range in {
		trimmed := strings.TrimSpace(l)
		indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
		switch {
		case strings.HasPrefix(trimmed, "interval: "):
			out[i] = indent + "interval: 1s"
		case strings.HasPrefix(trimmed, "for: ") && trimmed != "for: 0m":
			out[i] = indent + "for: 3s"
		}
		if out[i] != l {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("shortenRules changed nothing: has backup.yml's layout changed?")
	}
	return []byte(strings.Join(out, "\n"))
}

// replaceOnce replaces old by new in s, failing unless old occurs exactly once.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("the shipped alertmanager.yml has %q %d times, want once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// stack is every part of a deployment, running.
type stack struct {
	t        *testing.T
	dir      string
	vault    *vaulttest.Server
	serve    *process
	serveURL string
	promURL  string
	amURL    string
	prom     *process
	am       *process
	slack    *slackStub
	smtp     *smtpServer
	owner    string // the backup owner's address from the shipped file
	parts    []*process
}

// env is what every backupwatch process gets: the Vault token through the
// environment (never a flag), and a spool of its own.
func (s *stack) env() []string {
	return []string{"VAULT_TOKEN=" + s.vault.RootToken, "BACKUPWATCH_SPOOL_DIR=" + filepath.Join(s.dir, "spool")}
}

// bw runs one backupwatch command against the test's Vault.
func (s *stack) bw(args ...string) {
	s.t.Helper()
	cmd := exec.Command(backupwatchBin, append([]string{"--vault.address=" + s.vault.Addr}, args...)...)
	cmd.Env = append(os.Environ(), s.env()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("backupwatch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func startStack(t *testing.T) *stack {
	s := &stack{t: t, dir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			s.report()
		}
	})
	s.vault = vaulttest.Start(t)
	now := time.Now().UTC()
	// Records before the exporter starts, so no host is ever unknown.
	s.bw("record", "--status=success", "--host=db", "--at="+now.Add(-time.Hour).Format(time.RFC3339))
	s.bw("record", "--status=success", "--host=auth", "--at="+now.Add(-time.Hour).Format(time.RFC3339))
	s.bw("record", "--status=success", "--host=web", "--at="+now.Add(-time.Hour).Format(time.RFC3339))
	s.bw("restore-test", "record", "--result=passed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m", "--at="+now.Add(-24*time.Hour).Format(time.RFC3339))

	// backupwatch serve.
	serveAddr := freeAddr(t)
	s.serveURL = "http://" + serveAddr
	s.serve = start(t, "backupwatch serve", s.env(), backupwatchBin,
		"--vault.address="+s.vault.Addr, "serve", "--web.listen-address="+serveAddr, "--refresh.interval=1s", "--host=db", "--host=auth")
	s.parts = append(s.parts, s.serve)
	s.waitReady(s.serve, s.serveURL+"/-/ready")

	// The receivers people would read.
	s.slack = newSlackStub(t)
	s.smtp = newSMTPServer(t)

	// Alertmanager with the shipped configuration: only the Slack URL and
	// the SMTP smarthost point into the test. The shipped file requires TLS
	// to the relay, which this SMTP server does not offer, so the copy says
	// smtp_require_tls: false. group_wait (30s) and group_interval (5m) are
	// shortened so that first and resolved notifications arrive within
	// seconds; routes, receivers and everything else are as shipped.
	amShipped, err := os.ReadFile("../deploy/alertmanager/alertmanager.yml")
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
	am := string(amShipped)
	am = replaceOnce(t, am, "api_url_file: '/etc/prometheus/alertmanager-slack-webhook-url'", "api_url_file: '"+urlFile+"'")
	am = replaceOnce(t, am, "smtp_smarthost: 'smtp.example.org:587'", "smtp_smarthost: '"+s.smtp.addr()+"'")
	am = replaceOnce(t, am, "smtp_require_tls: true", "smtp_require_tls: false")
	am = replaceOnce(t, am, "group_wait: 30s", "group_wait: 1s")
	am = replaceOnce(t, am, "group_interval: 5m", "group_interval: 2s")
	amConf := filepath.Join(s.dir, "alertmanager.yml")
	if err := os.WriteFile(amConf, []byte(am), 0o644); err != nil {
		t.Fatal(err)
	}
	amAddr := freeAddr(t)
	s.amURL = "http://" + amAddr
	s.am = start(t, "alertmanager", nil, debian(t, "prometheus-alertmanager"),
		"--config.file="+amConf,
		"--storage.path="+filepath.Join(s.dir, "alertmanager"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=",
		"--log.level=debug")
	s.parts = append(s.parts, s.am)
	s.waitReady(s.am, s.amURL+"/-/ready")

	// Prometheus scraping backupwatch as job "backupwatch" every second,
	// with the shipped rules (intervals and `for` shortened in a copy).
	rules, err := os.ReadFile("../deploy/prometheus/backup.yml")
	if err != nil {
		t.Fatal(err)
	}
	rulesCopy := filepath.Join(s.dir, "backup.yml")
	if err := os.WriteFile(rulesCopy, shortenRules(t, rules), 0o644); err != nil {
		t.Fatal(err)
	}
	promConf := filepath.Join(s.dir, "prometheus.yml")
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['%s']
scrape_configs:
  - job_name: backupwatch
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs:
      - targets: ['%s']
`, rulesCopy, amAddr, serveAddr)
	if err := os.WriteFile(promConf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	s.promURL = "http://" + promAddr
	s.prom = start(t, "prometheus", nil, debian(t, "prometheus"),
		"--config.file="+promConf,
		"--storage.tsdb.path="+filepath.Join(s.dir, "prometheus"),
		"--web.listen-address="+promAddr)
	s.parts = append(s.parts, s.prom)
	s.waitReady(s.prom, s.promURL+"/-/ready")
	return s
}

// waitReady waits for a part's readiness endpoint, failing early if it exits.
func (s *stack) waitReady(p *process, u string) {
	s.t.Helper()
	waitFor(s.t, p.name+" to be ready at "+u, waitLong, func() (bool, string) {
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
	for _, p := range s.parts {
		s.t.Logf("=== %s log:\n%s", p.name, p.out.String())
	}
	if s.promURL != "" {
		s.t.Logf("=== prometheus alerts: %s", s.promAlerts())
	}
	if s.slack != nil {
		s.t.Logf("=== Slack webhook requests:\n%s", s.slack.log.String())
	}
	if s.smtp != nil {
		s.t.Logf("=== SMTP session log:\n%s", s.smtp.log.String())
		for _, m := range s.smtp.snapshot() {
			s.t.Logf("=== email to %v: %s", m.To, m.Subject)
		}
	}
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
	var out []string
	for _, a := range r.Data.Alerts {
		out = append(out, fmt.Sprintf("%s{host=%q}=%s", a.Labels["alertname"], a.Labels["host"], a.State))
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

// about reports whether a notification title or subject such as
// "[FIRING:1] BackupFailed db (critical failed)" is about alert (and host,
// when given) in the wanted state.
func about(title, alert, host string, resolved bool) bool {
	prefix := "[FIRING:"
	if resolved {
		prefix = "[RESOLVED]"
	}
	if !strings.HasPrefix(title, prefix) {
		return false
	}
	words := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(title))
	return slices.Contains(words, alert) && (host == "" || slices.Contains(words, host))
}

// mark is how many notifications each receiver had got: waits look only
// at what arrives after it, so an earlier notification cannot satisfy them.
type mark struct{ slack, slackRejected, email int }

func (s *stack) mark() mark {
	posts, rejected := s.slack.snapshot()
	return mark{len(posts), len(rejected), len(s.smtp.snapshot())}
}

// waitSlack waits for a Slack post to #infrastructure-alerts about alert,
// received after m.
func (s *stack) waitSlack(m mark, alert, host string, resolved bool) slackPost {
	s.t.Helper()
	var found slackPost
	waitFor(s.t, fmt.Sprintf("Slack post: %s %s resolved=%v", alert, host, resolved), waitLong, func() (bool, string) {
		posts, _ := s.slack.snapshot()
		for _, p := range posts[m.slack:] {
			if about(p.title(), alert, host, resolved) {
				found = p
				return true, ""
			}
		}
		return false, "prometheus " + s.promAlerts()
	})
	s.t.Logf("  Slack %s: %s", found.Channel, found.title())
	if found.Channel != "#infrastructure-alerts" {
		s.t.Errorf("Slack post %q went to channel %q, want #infrastructure-alerts", found.title(), found.Channel)
	}
	return found
}

// waitEmail waits for an email to the backup owner about alert, received
// after m.
func (s *stack) waitEmail(m mark, alert, host string, resolved bool) email {
	s.t.Helper()
	var found email
	waitFor(s.t, fmt.Sprintf("email to %s: %s %s resolved=%v", s.owner, alert, host, resolved), waitLong, func() (bool, string) {
		for _, e := range s.smtp.snapshot()[m.email:] {
			if about(e.Subject, alert, host, resolved) && slices.Contains(e.To, s.owner) {
				found = e
				return true, ""
			}
		}
		return false, "prometheus " + s.promAlerts()
	})
	s.t.Logf("  email to %v: %s", found.To, found.Subject)
	return found
}

// TestAlertsReachPeople runs every part for real and checks the runbook's
// promises: a failed backup, an overdue backup and a failed restore test
// reach Slack and the backup owner's email; so does the monitoring going
// down; a recovery resolves; and a Slack outage does not stop the email.
func TestAlertsReachPeople(t *testing.T) {
	s := startStack(t)

	waitFor(t, "Prometheus to scrape backupwatch", waitLong, func() (bool, string) {
		up := s.promQuery(`up{job="backupwatch"}`)
		st := s.promQuery(`backup_status{host="db",status="success"}`)
		return up == "1" && st == "1", fmt.Sprintf("up=%q backup_status{db,success}=%q", up, st)
	})

	// Every backup metric the shipped rules and dashboard use is one the
	// real exporter exports (the metric contract, checked from both ends).
	for _, name := range referencedMetrics(t, "../deploy/prometheus/backup.yml", "../deploy/grafana/backupwatch.json") {
		if got := s.promQuery("count(" + name + ")"); got == "" {
			t.Errorf("%s is used by the rules or the dashboard but backupwatch does not export it", name)
		}
	}

	t.Log("db records a failed backup: BackupFailed reaches Slack and email")
	m := s.mark()
	s.bw("record", "--status=failed", "--host=db", "--exit-code=1", "--message=Fatal: unable to open repository")
	post := s.waitSlack(m, "BackupFailed", "db", false)
	if !strings.Contains(post.Attachments[0].Text, "Check /var/log/restic-backup.log on the affected host.") {
		t.Errorf("Slack text does not carry the runbook's description: %q", post.Attachments[0].Text)
	}
	mail := s.waitEmail(m, "BackupFailed", "db", false)
	// The body is quoted-printable HTML: join its soft line breaks first.
	if body := strings.ReplaceAll(mail.Body, "=\r\n", ""); !strings.Contains(body, "/var/log/restic-backup.log") {
		t.Errorf("email body does not carry the runbook's description:\n%s", mail.Body)
	}

	t.Log("a host whose last success is 25 hours old: BackupNotRunIn24Hours")
	m = s.mark()
	s.bw("record", "--status=success", "--host=old", "--at="+time.Now().Add(-25*time.Hour).UTC().Format(time.RFC3339))
	s.waitSlack(m, "BackupNotRunIn24Hours", "old", false)
	s.waitEmail(m, "BackupNotRunIn24Hours", "old", false)

	t.Log("a restore test recorded as failed: RestoreTestFailed")
	m = s.mark()
	s.bw("restore-test", "record", "--result=failed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m", "--notes=checksum mismatch in pack")
	post = s.waitSlack(m, "RestoreTestFailed", "", false)
	if !strings.Contains(post.Attachments[0].Text, "(host tested: db.golemtrust.am)") {
		t.Errorf("RestoreTestFailed text lacks the host tested (from backup_restore_test_info): %q", post.Attachments[0].Text)
	}
	s.waitEmail(m, "RestoreTestFailed", "", false)

	t.Log("db records a success: the BackupFailed notification resolves")
	m = s.mark()
	s.bw("record", "--status=success", "--host=db")
	s.waitSlack(m, "BackupFailed", "db", true)
	s.waitEmail(m, "BackupFailed", "db", true)

	t.Log("Slack answers 500: the email still arrives; Slack gets it once it is back")
	m = s.mark()
	s.slack.failing.Store(true)
	s.bw("record", "--status=failed", "--host=web", "--exit-code=1", "--message=Fatal: unable to open repository")
	s.waitEmail(m, "BackupFailed", "web", false)
	waitFor(t, "Alertmanager to try Slack with BackupFailed for web", waitLong, func() (bool, string) {
		_, rejected := s.slack.snapshot()
		for _, p := range rejected[m.slackRejected:] {
			if about(p.title(), "BackupFailed", "web", false) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d rejected posts", len(rejected)-m.slackRejected)
	})
	posts, _ := s.slack.snapshot()
	for _, p := range posts[m.slack:] {
		if about(p.title(), "BackupFailed", "web", false) {
			t.Fatalf("Slack accepted %q while answering 500", p.title())
		}
	}
	s.slack.failing.Store(false)
	s.waitSlack(m, "BackupFailed", "web", false)

	t.Log("Vault stops: BackupStoreUnreachable, and no host turns unknown")
	m = s.mark()
	s.vault.Stop(t)
	s.waitSlack(m, "BackupStoreUnreachable", "", false)
	s.waitEmail(m, "BackupStoreUnreachable", "", false)
	if got := s.promQuery(`count(backup_status{status="unknown"} == 1) or vector(0)`); got != "0" {
		t.Errorf("hosts exported as unknown while Vault is down: %s, want 0 (the last values read are kept)", got)
	}

	t.Log("the exporter stops: BackupExporterDown")
	m = s.mark()
	s.serve.stop(t)
	s.waitSlack(m, "BackupExporterDown", "", false)
	s.waitEmail(m, "BackupExporterDown", "", false)

	// No secret anywhere a person or another program reads.
	var seen strings.Builder
	for _, p := range s.parts {
		seen.WriteString(p.out.String())
	}
	seen.WriteString(s.slack.log.String())
	for _, m := range s.smtp.snapshot() {
		seen.WriteString(m.Subject + m.Body)
	}
	if strings.Contains(seen.String(), s.vault.RootToken) {
		t.Errorf("the Vault token appears in a log or notification")
	}
}

// referencedMetrics returns the backup_* and backupwatch_* metric names the
// given files use.
func referencedMetrics(t *testing.T, files ...string) []string {
	t.Helper()
	re := regexp.MustCompile(`\bbackup(?:watch)?_[a-z_]+`)
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllString(string(b), -1) {
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
