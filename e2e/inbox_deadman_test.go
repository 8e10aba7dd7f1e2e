package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// The dead man's switch, proved through the inbox (issue 18): the shipped
// rules and route (timings scaled to a 60th) on Debian's Prometheus and an
// Alertmanager pair, `backupwatch serve` on a local store, and
// `backupwatch deadman` told both Alertmanagers as its senders; each break
// of the path is counted in what the Slack stand-in and the real SMTP
// server receive.
//
// deadman's --timeout here is 20 scaled minutes, not the default 10: a
// restarted Prometheus finds its targets after 5 unscaled seconds (its
// discovery interval), 5 scaled minutes, and a healthy restart must not
// page. --reminder is a scaled hour (a scaled day, 24 minutes, would make
// the suite long for nothing: the rule is the same).

// dmStack is the deployment of the deadman scenarios, running.
type dmStack struct {
	t                 *testing.T
	dir, store        string
	minute            time.Duration
	timeout, reminder time.Duration
	slack             *slackStub
	mail              *mailsink
	owner             string
	parts             []*process
	dmArgs, promArgs  []string
	amArgs            [2][]string
	dm, prom, serve   *process
	ams               [2]*process
	dmURL, promURL    string
	amURL             [2]string
	promConf          string
	writeConf         func(rules bool)
}

func (s *dmStack) run(name string, env []string, args ...string) *process {
	p := start(s.t, name, env, backupwatchBin, args...)
	s.parts = append(s.parts, p)
	return p
}

func (s *dmStack) bw(args ...string) {
	s.t.Helper()
	cmd := append([]string{"--store.dir=" + s.store}, args...)
	p := start(s.t, "backupwatch "+args[0], []string{"BACKUPWATCH_SPOOL_DIR=" + filepath.Join(s.dir, "spool")}, backupwatchBin, cmd...)
	<-p.done
	if p.err != nil {
		s.t.Fatalf("backupwatch %v: %v\n%s", args, p.err, p.out.String())
	}
}

func startDeadmanStack(t *testing.T) *dmStack {
	takeSlot(t, nil)
	s := &dmStack{t: t, dir: t.TempDir(), minute: time.Duration(float64(time.Minute) * defaultScale)}
	s.timeout, s.reminder = 20*s.minute, 60*s.minute
	s.store = filepath.Join(s.dir, "store")
	t.Cleanup(func() {
		if t.Failed() {
			partsLogs(t, s.parts, s.slack).write()
		}
	})
	hourAgo := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	for _, h := range []string{"db", "auth", "web"} {
		s.bw("record", "--status=success", "--host="+h, "--at="+hourAgo)
	}
	s.bw("restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=47m", "--at="+time.Now().UTC().Add(-24*time.Hour).Format(time.RFC3339))

	s.slack = newSlackStub(t)
	s.mail = startMailsink(t, filepath.Join(s.dir, "mail"))
	s.parts = append(s.parts, s.mail.p)
	deploy := deployDir(t)
	shipped, err := os.ReadFile(filepath.Join(deploy, "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s.owner = string(regexp.MustCompile(`(?m)^\s*- to: '([^']+)'`).FindSubmatch(shipped)[1])
	urlFile := filepath.Join(s.dir, "slack-webhook-url")
	if err := os.WriteFile(urlFile, []byte(s.slack.srv.URL+"/services/T000/B000/XXXX\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// deadman, told both Alertmanagers by their external URLs.
	dmAddr := freeAddr(t)
	s.dmURL = "http://" + dmAddr
	amAddrs := [2]string{freeAddr(t), freeAddr(t)}
	s.dmArgs = []string{"deadman", "--web.listen-address=" + dmAddr, "--timeout=" + s.timeout.String(), "--reminder=" + s.reminder.String(),
		"--state.file=" + filepath.Join(s.dir, "deadman.json"), "--slack.webhook-url-file=" + urlFile,
		"--email.smarthost=" + s.mail.addr, "--email.from=deadman@example.org", "--email.to=" + s.owner, "--no-email.require-tls"}
	for i := range 2 {
		s.amURL[i] = "http://" + amAddrs[i]
		s.dmArgs = append(s.dmArgs, "--sender="+s.amURL[i])
	}
	s.startDeadman()

	// The Alertmanager pair, the shipped file scaled; the second member's
	// copy names its heartbeat receiver after itself, as alertmanager.yml
	// says a cluster must.
	scaled, _ := scaleTimings(t, "alertmanager.yml", shipped, defaultScale)
	am := string(scaled)
	am = replaceAll(t, "alertmanager.yml", am, `api_url_file:\s*'[^']*'`, "api_url_file: '"+urlFile+"'")
	am = replaceAll(t, "alertmanager.yml", am, `smtp_smarthost:\s*'[^']*'`, "smtp_smarthost: '"+s.mail.addr+"'")
	am = replaceAll(t, "alertmanager.yml", am, `smtp_require_tls:\s*true`, "smtp_require_tls: false")
	am = replaceAll(t, "alertmanager.yml", am, `url: 'http://deadman.example.org:10037/heartbeat'`, "url: '"+s.dmURL+"/heartbeat'")
	am = strings.ReplaceAll(am, "/etc/prometheus/alertmanager_templates/", filepath.Join(deploy, "alertmanager")+"/")
	gossip := [2]string{freeAddr(t), freeAddr(t)}
	for i := range 2 {
		conf := filepath.Join(s.dir, fmt.Sprintf("alertmanager-%d.yml", i+1))
		c := am
		if i == 1 {
			c = replaceAll(t, "alertmanager.yml", c, `'heartbeat'`, "'heartbeat-am-2'")
		}
		if err := os.WriteFile(conf, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		s.amArgs[i] = []string{"--config.file=" + conf, "--storage.path=" + filepath.Join(s.dir, fmt.Sprintf("am-%d", i+1)),
			"--web.listen-address=" + amAddrs[i], "--web.external-url=" + s.amURL[i],
			"--cluster.listen-address=" + gossip[i], "--cluster.advertise-address=" + gossip[i], "--cluster.peer=" + gossip[1-i],
			"--cluster.peer-timeout=1s"}
		s.startAM(i)
	}

	serveAddr := freeAddr(t)
	s.serve = s.run("backupwatch serve", []string{"BACKUPWATCH_SPOOL_DIR=" + filepath.Join(s.dir, "spool")}, "--store.dir="+s.store, "serve",
		"--web.listen-address="+serveAddr, "--refresh.interval="+s.minute.String(), "--host=db", "--host=auth", "--host=web")
	s.waitReady(s.serve, "http://"+serveAddr+"/-/ready")

	// Prometheus: the shipped rules scaled, scraping backupwatch, both
	// Alertmanagers, itself and deadman (the jobs deployment.md names);
	// its resend delay (1m, which sets how long a stopped alert stays
	// alive in Alertmanager) scaled too.
	rules, err := os.ReadFile(filepath.Join(deploy, "prometheus", "backup.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rulesScaled, _ := scaleTimings(t, "backup.yml", rules, defaultScale)
	rulesCopy := filepath.Join(s.dir, "backup.yml")
	if err := os.WriteFile(rulesCopy, rulesScaled, 0o644); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	s.promURL = "http://" + promAddr
	s.promConf = filepath.Join(s.dir, "prometheus.yml")
	s.writeConf = func(withRules bool) {
		ruleFiles := ""
		if withRules {
			ruleFiles = "rule_files:\n  - " + rulesCopy
		}
		conf := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
%[2]s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['%[3]s', '%[4]s']
scrape_configs:
  - job_name: backupwatch
    static_configs:
      - targets: ['%[5]s']
  - job_name: alertmanager
    static_configs:
      - targets: ['%[3]s', '%[4]s']
  - job_name: prometheus
    static_configs:
      - targets: ['%[6]s']
  - job_name: backupwatch-deadman
    static_configs:
      - targets: ['%[7]s']
`, model.Duration(s.minute), ruleFiles, amAddrs[0], amAddrs[1], serveAddr, promAddr, dmAddr)
		if err := os.WriteFile(s.promConf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.promArgs = []string{"--config.file=" + s.promConf, "--storage.tsdb.path=" + filepath.Join(s.dir, "prometheus"),
		"--web.listen-address=" + promAddr, "--rules.alert.resend-delay=" + s.minute.String()}
	s.startProm()
	waitFor(t, "deadman to hear both Alertmanagers", 2*s.timeout, func() (bool, string) {
		m := s.deadmanMetrics()
		return heard(m, s.amURL[0]) && heard(m, s.amURL[1]), m
	})
	return s
}

func heard(metrics, sender string) bool {
	return regexp.MustCompile(`(?m)^backupwatch_deadman_heartbeats_total\{sender="` + regexp.QuoteMeta(sender) + `"\} [1-9]`).MatchString(metrics)
}

func (s *dmStack) startDeadman() {
	s.dm = s.run("backupwatch deadman", nil, s.dmArgs...)
	s.waitReady(s.dm, s.dmURL+"/-/ready")
}

func (s *dmStack) startAM(i int) {
	s.ams[i] = start(s.t, fmt.Sprintf("alertmanager-%d", i+1), nil, debian(s.t, "prometheus-alertmanager"), s.amArgs[i]...)
	s.parts = append(s.parts, s.ams[i])
	s.waitReady(s.ams[i], s.amURL[i]+"/-/ready")
}

// startProm starts Prometheus without the rules and gives them once it
// scrapes backupwatch, as the inbox suite does: the scaled `for` of the
// absence alerts must not meet its first, unscaled, discovery.
func (s *dmStack) startProm() {
	s.writeConf(false)
	s.prom = start(s.t, "prometheus", nil, debian(s.t, "prometheus"), s.promArgs...)
	s.parts = append(s.parts, s.prom)
	s.waitReady(s.prom, s.promURL+"/-/ready")
	waitFor(s.t, "Prometheus to scrape backupwatch", time.Minute, func() (bool, string) {
		up := promValue(s.promURL, `up{job="backupwatch"}`)
		return up == "1", "up=" + up
	})
	s.writeConf(true)
	if err := s.prom.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		s.t.Fatal(err)
	}
}

func (s *dmStack) waitReady(p *process, u string) {
	s.t.Helper()
	waitFor(s.t, p.name+" to be ready", time.Minute, func() (bool, string) {
		if done, err := p.exited(); done {
			s.t.Fatalf("%s exited: %v\n%s", p.name, err, p.out.String())
		}
		resp, err := httpClient.Get(u)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

func (s *dmStack) deadmanMetrics() string {
	resp, err := httpClient.Get(s.dmURL + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// inboxes is what each channel received: Slack's accepted posts and the
// owner's email.
func (s *dmStack) inboxes() (slack, email []note) {
	slack, _ = s.slack.snapshot()
	for _, e := range s.mail.snapshot() {
		email = append(email, e.note)
	}
	return slack, email
}

// kind names a notification: deadman's by what it says, Alertmanager's
// as "status alertname".
func kind(n note) string {
	t := n.Title
	switch {
	case !strings.Contains(t, "Dead man's switch"):
		return n.Status + " " + n.Alertname
	case strings.Contains(t, "heartbeat back"):
		return "back"
	case strings.Contains(t, "(reminder)"):
		return "reminder"
	case regexp.MustCompile(`\d+ of \d+ heartbeat senders silent`).MatchString(t):
		return "warning"
	}
	return "page"
}

func kinds(notes []note) []string {
	var out []string
	for _, n := range notes {
		out = append(out, kind(n))
	}
	return out
}

// TestInboxDeadman plays the breaks of the path to a person, one after
// another on one stack, and counts what each channel receives.
func TestInboxDeadman(t *testing.T) {
	t.Parallel()
	s := startDeadmanStack(t)
	// A hold after each expectation: several heartbeats, checks and group
	// intervals, then nothing more may have come.
	hold := 8 * s.minute
	var seen [2]int
	mark := func() { sl, em := s.inboxes(); seen = [2]int{len(sl), len(em)} }
	since := func() (sl, em []note) { a, b := s.inboxes(); return a[seen[0]:], b[seen[1]:] }
	// expect waits until each channel got as many as want, holds, and then
	// checks each got exactly want, in order. It returns how long the
	// first message took.
	expect := func(what string, within time.Duration, want ...string) time.Duration {
		t.Helper()
		start := time.Now()
		if len(want) > 0 {
			waitFor(t, what, within, func() (bool, string) {
				sl, em := since()
				return len(sl) >= len(want) && len(em) >= len(want), fmt.Sprintf("slack %q, email %q", kinds(sl), kinds(em))
			})
		}
		took := time.Since(start)
		time.Sleep(hold)
		sl, em := since()
		for ch, got := range map[string][]string{"slack": kinds(sl), "email": kinds(em)} {
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: %s got %q, want %q", what, ch, got, want)
			}
		}
		mark()
		return took
	}
	// Prometheus keeps a stopped alert alive in Alertmanager for four
	// resend delays (4 scaled minutes); then one --timeout, one heartbeat
	// (a scaled minute) and one check (a tenth of the timeout).
	silentWithin := 4*s.minute + s.timeout + s.minute + s.timeout/10 + 15*time.Second

	t.Log("all healthy; deadman restarted 5 times, Prometheus and an Alertmanager once: nothing to people")
	mark()
	for range 5 {
		s.dm.stop(t)
		s.startDeadman()
	}
	s.prom.stop(t)
	s.startProm()
	s.ams[1].stop(t)
	s.startAM(1)
	waitFor(t, "deadman to judge again after its restart", 2*s.timeout, func() (bool, string) {
		m := s.deadmanMetrics()
		return strings.Contains(m, "backupwatch_deadman_judging 1"), m
	})
	expect("healthy", 0)

	t.Log("Prometheus killed: one page per channel from deadman")
	s.prom.stop(t)
	took := expect("Prometheus killed", silentWithin, "page")
	t.Logf("measured: Prometheus killed to deadman's page: %v (bound: %v = 4 resend delays + timeout + heartbeat + check)", took.Round(time.Second), silentWithin-15*time.Second)
	t.Log("still killed for the --reminder interval: one reminder")
	expect("Prometheus killed for the reminder interval", s.reminder+15*time.Second, "reminder")

	t.Log("Prometheus restarted: one 'back' per channel")
	s.startProm()
	took = expect("Prometheus restarted", 2*time.Minute, "back")
	t.Logf("measured: Prometheus restarted to 'back': %v", took.Round(time.Second))

	t.Log("one Alertmanager of the pair killed: one warning")
	s.ams[0].stop(t)
	took = expect("Alertmanager 1 killed", s.timeout+s.timeout/5+s.timeout/10+15*time.Second, "warning")
	t.Logf("measured: one Alertmanager killed to the warning: %v", took.Round(time.Second))
	t.Log("both killed: one page")
	s.ams[1].stop(t)
	expect("both Alertmanagers killed", s.timeout+s.timeout/10+15*time.Second, "page")
	t.Log("both restarted: one 'back'")
	s.startAM(0)
	s.startAM(1)
	expect("both Alertmanagers restarted", 2*time.Minute, "back")

	// One notifier failing: a backup fails, Alertmanager cannot deliver it
	// to Slack, and email says so, once, for a scaled hour.
	t.Log("Slack answering 500 for a scaled hour: email says Slack is failing, once")
	failing := 60 * s.minute
	mark()
	s.slack.failing.Store(true)
	start := time.Now()
	s.bw("record", "--status=failed", "--host=db", "--exit-code=1", "--message=Fatal: unable to open repository")
	waitFor(t, "email to say Slack is failing", failing, func() (bool, string) {
		_, em := since()
		return count(em, "firing", "BackupwatchNotificationsFailing") > 0, fmt.Sprint(kinds(em))
	})
	t.Logf("measured: Slack failing to the email saying so: %v", time.Since(start).Round(time.Second))
	time.Sleep(time.Until(start.Add(failing)))
	_, em := since()
	if n := count(em, "firing", "BackupwatchNotificationsFailing"); n != 1 {
		t.Errorf("Slack failing for a scaled hour: %d emails saying so, want 1: %q", n, kinds(em))
	}
	for _, n := range em {
		if kind(n) == "firing BackupwatchNotificationsFailing" && !strings.Contains(strings.Join(n.Parts, " "), "slack notifications") {
			t.Errorf("the email does not name Slack: %v", n.Parts)
		}
	}
	s.slack.failing.Store(false)

	t.Log("the SMTP relay down for a scaled hour: Slack says email is failing, once")
	mark()
	s.mail.p.stop(t)
	start = time.Now()
	s.bw("record", "--status=failed", "--host=auth", "--exit-code=1", "--message=Fatal: unable to open repository")
	waitFor(t, "Slack to say email is failing", failing, func() (bool, string) {
		sl, _ := since()
		return count(sl, "firing", "BackupwatchNotificationsFailing") > 0, fmt.Sprint(kinds(sl))
	})
	t.Logf("measured: the relay down to the Slack post saying so: %v", time.Since(start).Round(time.Second))
	time.Sleep(time.Until(start.Add(failing)))
	sl, _ := since()
	if n := count(sl, "firing", "BackupwatchNotificationsFailing"); n != 1 {
		t.Errorf("the relay down for a scaled hour: %d Slack posts saying so, want 1: %q", n, kinds(sl))
	}
	for _, n := range sl {
		if strings.Contains(n.Title, "Dead man's switch") {
			t.Errorf("deadman spoke while the path was whole: %q", n.Title)
		}
	}
}
