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
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// The HA deployment users already run, every part real: a three-node Vault
// cluster with integrated Raft storage, two `backupwatch serve` replicas
// (each given every Vault node), a Prometheus HA pair (each scraping both
// replicas, with the shipped rules, sending to both Alertmanagers), two
// Alertmanager peers gossiping on loopback with the shipped route, and a
// third Prometheus scraping both replicas for the dashboard's queries.
//
// Prometheus configuration of an HA deployment (docs/deployment.md): each
// Prometheus of the pair scrapes both serve replicas (both read the same
// Vault); the pair differ only in external label `replica`, dropped from
// alerts, so both send the same alerts and Alertmanager sees one of each.
// The scraped series get instance="backupwatch" and backupwatch_replica,
// the replica's address; the shipped rules aggregate backupwatch_replica
// away (the current value of any replica that is up, else the last one),
// so a host is one alert whichever replica reports it and one replica down
// for any length of time changes nothing the other reports. `up` keeps the
// replica's address, so BackupExporterDown names the replica that is down
// and does not inhibit the host alerts the other replica still reports.
const haScrapeRelabel = `    metric_relabel_configs:
      - source_labels: [instance]
        target_label: backupwatch_replica
      - target_label: instance
        replacement: backupwatch
`

const haAlertRelabel = `  alert_relabel_configs:
    - action: labeldrop
      regex: replica
`

// haStack is the HA deployment, running.
type haStack struct {
	t      *testing.T
	dir    string
	vault  *vaulttest.Cluster
	hosts  []string
	serves []string // base URLs of the serve replicas
	// the serve replicas' processes and arguments, to stop and start one
	serveProcs []*process
	serveArgs  [][]string
	stopped    map[*process]bool // stopped on purpose: not a failure
	proms      []*process
	promURL    []string
	dashURL    string
	amURL      []string
	slack      *slackStub
	mail       *mailsink
	owner      string
	settle     time.Duration
	minute     time.Duration // a minute, scaled
	wait       time.Duration
	frozenAt   time.Time
	freezers   []*scrapeFreezer // between the Prometheus pair and the replicas
	parts      []*process
	env        []string
}

func (s *haStack) bwCmd(args ...string) *exec.Cmd {
	global := []string{"--vault.address=" + s.vault.Addresses()}
	if len(s.serves) > 0 {
		// Both replicas are nudged: they show a result at once, within a
		// scrape of each other, instead of up to a refresh apart.
		global = append(global, "--exporter.url="+strings.Join(s.serves, ","))
	}
	cmd := exec.Command(backupwatchBin, append(global, args...)...)
	cmd.Env = append(os.Environ(), s.env...)
	return cmd
}

func (s *haStack) bw(args ...string) {
	s.t.Helper()
	if out, err := s.bwCmd(args...).CombinedOutput(); err != nil {
		s.t.Fatalf("backupwatch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func startHA(t *testing.T, hosts []string, long *reservation) *haStack {
	takeSlot(t, long)
	// Half the inbox suite's pace: Alertmanager peers deduplicate through
	// gossip within --cluster.peer-timeout, and gossip on a loaded machine
	// (the whole suite runs in parallel, or beside a CPU hog) can take a
	// second; the timeout must stay well below the scaled group_interval.
	const scale = defaultScale * 2
	minute := time.Duration(float64(time.Minute) * scale)
	s := &haStack{t: t, dir: t.TempDir(), hosts: hosts, minute: minute}
	t.Cleanup(func() {
		if t.Failed() {
			partsLogs(t, s.parts, s.slack).write()
		}
	})
	deploy := deployDir(t)
	s.vault = vaulttest.StartCluster(t)
	s.env = []string{"VAULT_TOKEN=" + s.vault.RootToken, "BACKUPWATCH_SPOOL_DIR=" + filepath.Join(s.dir, "spool")}
	hourAgo := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	for _, h := range hosts {
		s.bw("record", "--status=success", "--host="+h, "--at="+hourAgo)
	}
	s.bw("restore-test", "record", "--result=passed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m",
		"--at="+time.Now().UTC().Add(-24*time.Hour).Format(time.RFC3339))

	s.slack = newSlackStub(t)
	s.mail = startMailsink(t, filepath.Join(s.dir, "mail"))
	s.parts = append(s.parts, s.mail.p)

	// Two Alertmanager peers with the shipped configuration (rewritten as
	// the inbox suite does: receivers' addresses, templates, timings).
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
	amScaled, amTimes := scaleTimings(t, "alertmanager.yml", amShipped, scale)
	am := string(amScaled)
	am = replaceAll(t, "alertmanager.yml", am, `api_url_file:\s*'[^']*'`, "api_url_file: '"+urlFile+"'")
	am = replaceAll(t, "alertmanager.yml", am, `smtp_smarthost:\s*'[^']*'`, "smtp_smarthost: '"+s.mail.addr+"'")
	am = replaceAll(t, "alertmanager.yml", am, `smtp_require_tls:\s*true`, "smtp_require_tls: false")
	am = strings.ReplaceAll(am, "/etc/prometheus/alertmanager_templates/", filepath.Join(deploy, "alertmanager")+"/")
	amConf := filepath.Join(s.dir, "alertmanager.yml")
	if err := os.WriteFile(amConf, []byte(am), 0o644); err != nil {
		t.Fatal(err)
	}
	groupInterval := slices.Max(amTimes["group_interval"])
	groupWait := slices.Max(amTimes["group_wait"])
	// A peer sends a group's notification only after its position times
	// --cluster.peer-timeout, if the other has not, and it sends what it
	// saw at its flush: the timeout must stay well below group_interval,
	// as the shipped 5m is to Alertmanager's default 15s (scaled, 10s
	// against 15s, every resolution would meet a stale flush of the other
	// peer), and well above gossip's delay: 2s is ten gossip rounds
	// (200ms), room for a loaded machine (at 1s, TestHA saw one group sent
	// by both peers).
	const peerTimeout = 2 * time.Second
	s.settle = peerTimeout + 3*groupInterval
	s.wait = 2*time.Minute + groupWait
	// Debian's, or another (BACKUPWATCH_HA_ALERTMANAGER=tools/bin/alertmanager).
	amBin := os.Getenv("BACKUPWATCH_HA_ALERTMANAGER")
	if amBin == "" {
		amBin = debian(t, "prometheus-alertmanager")
	}
	gossip := []string{freeAddr(t), freeAddr(t)}
	var amAddrs []string
	var ams []*process
	for i := range 2 {
		addr := freeAddr(t)
		amAddrs = append(amAddrs, addr)
		s.amURL = append(s.amURL, "http://"+addr)
		p := start(t, fmt.Sprintf("alertmanager-%d", i+1), nil, amBin,
			"--config.file="+amConf,
			"--storage.path="+filepath.Join(s.dir, fmt.Sprintf("alertmanager-%d", i+1)),
			"--web.listen-address="+addr,
			"--cluster.listen-address="+gossip[i],
			"--cluster.advertise-address="+gossip[i],
			"--cluster.peer="+gossip[1-i],
			"--cluster.peer-timeout="+peerTimeout.String(),
			"--log.level=debug")
		s.parts = append(s.parts, p)
		ams = append(ams, p)
	}

	// Two serve replicas, each given every Vault node; the Prometheus pair
	// scrapes each through a scrapeFreezer (the dashboard's directly).
	var serveAddrs, scrapeAddrs []string
	for i := range 2 {
		addr := freeAddr(t)
		serveAddrs = append(serveAddrs, addr)
		u := "http://" + addr
		s.serves = append(s.serves, u)
		f := newScrapeFreezer(t, u)
		s.freezers = append(s.freezers, f)
		scrapeAddrs = append(scrapeAddrs, f.addr)
		args := []string{"--vault.address=" + s.vault.Addresses(), "serve", "--web.listen-address=" + addr,
			"--refresh.interval=" + minute.String()}
		if serveHasExternalURL {
			args = append(args, "--web.external-url="+u)
		}
		for _, h := range hosts {
			args = append(args, "--host="+h)
		}
		s.serveArgs = append(s.serveArgs, args)
		s.serveProcs = append(s.serveProcs, nil)
		s.startServe(i)
	}

	// The Prometheus pair.
	rules, err := os.ReadFile(filepath.Join(deploy, "prometheus", "backup.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rulesScaled, _ := scaleTimings(t, "backup.yml", rules, scale)
	rulesCopy := filepath.Join(s.dir, "backup.yml")
	if err := os.WriteFile(rulesCopy, rulesScaled, 0o644); err != nil {
		t.Fatal(err)
	}
	confs := make([]string, 2)
	writeConf := func(i int, rules string) {
		conf := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
  external_labels:
    replica: %[2]s
%[3]s
alerting:
%[4]s  alertmanagers:
    - static_configs:
        - targets: ['%[5]s', '%[6]s']
scrape_configs:
  - job_name: backupwatch
    static_configs:
      - targets: ['%[7]s', '%[8]s']
%[9]s`, model.Duration(minute), []string{"a", "b"}[i], rules, haAlertRelabel, amAddrs[0], amAddrs[1], scrapeAddrs[0], scrapeAddrs[1], haScrapeRelabel)
		if err := os.WriteFile(confs[i], []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		confs[i] = filepath.Join(s.dir, fmt.Sprintf("prometheus-%d.yml", i+1))
		writeConf(i, "")
		addr := freeAddr(t)
		s.promURL = append(s.promURL, "http://"+addr)
		// Prometheus resends every alert, resolved ones for 15 minutes,
		// each --rules.alert.resend-delay (1m): shorter than the route's
		// group_interval (5m), so an Alertmanager group holds a recent
		// recovery at every flush and a new failure after a mass recovery
		// is one message. Scaled timings must keep that order (with the
		// unscaled 1m against a 10s group interval, the group held the
		// recoveries at one flush in six, and a new failure was sent again
		// when they came back): 2.5 scaled minutes. Alerts then stay valid
		// 4 resend delays (20s) without news from a Prometheus: the storms
		// freeze what the pair scrapes rather than stop the pair, so a
		// fail-over slowed past that by a loaded machine resolves nothing
		// (scrapeFreezer).
		p := start(t, fmt.Sprintf("prometheus-%d", i+1), nil, debian(t, "prometheus"),
			"--config.file="+confs[i],
			"--storage.tsdb.path="+filepath.Join(s.dir, fmt.Sprintf("prometheus-%d", i+1)),
			"--rules.alert.resend-delay="+model.Duration(s.resendDelay()).String(),
			"--web.listen-address="+addr)
		s.parts = append(s.parts, p)
		s.proms = append(s.proms, p)
	}
	// A Prometheus scraping both replicas as two targets, for the
	// dashboard (Grafana may well be given one such): no rules.
	dashConf := filepath.Join(s.dir, "prometheus-dashboard.yml")
	if err := os.WriteFile(dashConf, []byte(fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
scrape_configs:
  - job_name: backupwatch
    static_configs:
      - targets: ['%[2]s', '%[3]s']
`, model.Duration(minute), serveAddrs[0], serveAddrs[1])), 0o644); err != nil {
		t.Fatal(err)
	}
	dashAddr := freeAddr(t)
	s.dashURL = "http://" + dashAddr
	dash := start(t, "prometheus-dashboard", nil, debian(t, "prometheus"),
		"--config.file="+dashConf,
		"--storage.tsdb.path="+filepath.Join(s.dir, "prometheus-dashboard"),
		"--web.listen-address="+dashAddr)
	s.parts = append(s.parts, dash)
	for i, p := range s.proms {
		s.waitReady(p, s.promURL[i]+"/-/ready")
	}
	s.waitReady(dash, s.dashURL+"/-/ready")
	for i, u := range s.amURL {
		s.waitReady(ams[i], u+"/-/ready")
	}
	waitFor(t, "both Alertmanagers to see each other", s.wait, func() (bool, string) {
		var peers []string
		for _, u := range s.amURL {
			var st struct {
				Cluster struct {
					Peers []any `json:"peers"`
				} `json:"cluster"`
			}
			if err := getJSON(u+"/api/v2/status", &st); err != nil {
				return false, err.Error()
			}
			peers = append(peers, fmt.Sprint(len(st.Cluster.Peers)))
		}
		return peers[0] == "2" && peers[1] == "2", "peers seen: " + strings.Join(peers, ",")
	})
	// As the inbox suite: rules once both replicas are scraped, so that the
	// scaled `for` of the absence alerts does not meet Prometheus's start.
	for i, p := range s.proms {
		waitFor(t, "Prometheus to scrape both replicas", s.wait, func() (bool, string) {
			up := promValue(s.promURL[i], `count(up{job="backupwatch"} == 1)`)
			n := promValue(s.promURL[i], `count(backup_status{status="success",instance="backupwatch"} == 1)`)
			return up == "2" && n == fmt.Sprint(2*len(hosts)), fmt.Sprintf("up=%q successes=%q", up, n)
		})
		writeConf(i, "rule_files:\n  - "+rulesCopy)
		p.signal(t, syscall.SIGHUP)
	}
	for i := range s.proms {
		waitFor(t, "Prometheus to load the rules and find both Alertmanagers", s.wait, func() (bool, string) {
			var r struct {
				Data struct {
					Groups []struct {
						LastEvaluation time.Time `json:"lastEvaluation"`
					} `json:"groups"`
				} `json:"data"`
			}
			var a struct {
				Data struct {
					Active []any `json:"activeAlertmanagers"`
				} `json:"data"`
			}
			if err := getJSON(s.promURL[i]+"/api/v1/rules", &r); err != nil {
				return false, err.Error()
			}
			if err := getJSON(s.promURL[i]+"/api/v1/alertmanagers", &a); err != nil {
				return false, err.Error()
			}
			evaluated := 0
			for _, g := range r.Data.Groups {
				if !g.LastEvaluation.IsZero() {
					evaluated++
				}
			}
			return len(r.Data.Groups) > 0 && evaluated == len(r.Data.Groups) && len(a.Data.Active) == 2,
				fmt.Sprintf("%d groups, %d evaluated, %d alertmanagers", len(r.Data.Groups), evaluated, len(a.Data.Active))
		})
	}
	return s
}

// startServe starts serve replica i (again) and waits until it is ready.
func (s *haStack) startServe(i int) {
	if old := s.serveProcs[i]; old != nil {
		if s.stopped == nil {
			s.stopped = map[*process]bool{}
		}
		s.stopped[old] = true
	}
	p := start(s.t, fmt.Sprintf("serve-%d", i+1), s.env, backupwatchBin, s.serveArgs[i]...)
	s.serveProcs[i] = p
	s.parts = append(s.parts, p)
	s.waitReady(p, s.serves[i]+"/-/ready")
}

func (s *haStack) waitReady(p *process, u string) {
	s.t.Helper()
	waitFor(s.t, p.name+" to be ready at "+u, 90*time.Second, func() (bool, string) {
		for _, q := range s.parts {
			if done, err := q.exited(); done && !s.stopped[q] {
				s.t.Fatalf("%s exited: %v\n%s", q.name, err, q.out.String())
			}
		}
		resp, err := httpClient.Get(u)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
}

func getJSON(u string, v any) error {
	resp, err := httpClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// promSeries runs an instant query and returns each result's labels.
func promSeries(promURL, q string) ([]map[string]string, error) {
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  []any             `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, res := range r.Data.Result {
		out = append(out, res.Metric)
	}
	return out, nil
}

// promValue is the value of an instant query's only series, or "".
func promValue(promURL, q string) string {
	var r struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if getJSON(promURL+"/api/v1/query?query="+url.QueryEscape(q), &r) != nil || len(r.Data.Result) != 1 || len(r.Data.Result[0].Value) != 2 {
		return ""
	}
	v, _ := r.Data.Result[0].Value[1].(string)
	return v
}

// notes is every notification received so far, Slack's then email's.
func (s *haStack) notes() (slack, mail []note) {
	slack, _ = s.slack.snapshot()
	for _, e := range s.mail.snapshot() {
		if !slices.Contains(e.To, s.owner) {
			e.note.Title = "(to " + strings.Join(e.To, ",") + ") " + e.note.Title
		}
		mail = append(mail, e.note)
	}
	return slack, mail
}

// expect waits until each channel got, after the marks, notifications
// whose titles match want (in order), waits the settle period, and fails
// if anything else came, on either channel: a notification twice (one per
// Alertmanager peer, or one per serve replica) is what this suite exists
// to catch.
func (s *haStack) expect(what string, markSlack, markMail int, want ...string) (int, int) {
	s.t.Helper()
	titles := func() ([]string, []string) {
		sl, em := s.notes()
		var a, b []string
		for _, n := range sl[markSlack:] {
			a = append(a, n.Title)
		}
		for _, n := range em[markMail:] {
			b = append(b, n.Title)
		}
		return a, b
	}
	ok := func(got []string) bool {
		if len(got) != len(want) {
			return false
		}
		for i, w := range want {
			if !regexp.MustCompile(w).MatchString(got[i]) {
				return false
			}
		}
		return true
	}
	waitFor(s.t, what+": "+strings.Join(want, ", ")+" on Slack and email", s.wait, func() (bool, string) {
		a, b := titles()
		return len(a) >= len(want) && len(b) >= len(want), fmt.Sprintf("slack %q, email %q", a, b)
	})
	time.Sleep(s.settle)
	a, b := titles()
	sl, em := s.notes()
	ca, ea := withoutStaleEchoes(titlesOf(sl[:markSlack]), a)
	cb, eb := withoutStaleEchoes(titlesOf(em[:markMail]), b)
	if !ok(ca) || !ok(cb) || ea > 1 || eb > 1 {
		s.t.Errorf("%s: want exactly %q per channel; got Slack %q, email %q", what, want, a, b)
	} else if ea+eb > 0 {
		s.t.Logf("%s: the Alertmanager pair sent a stale view and then the current one again (Slack %d, email %d; upstream alertmanager#3551): got Slack %q, email %q",
			what, ea, eb, a, b)
	}
	return markSlack + len(a), markMail + len(b)
}

func titlesOf(ns []note) []string {
	var t []string
	for _, n := range ns {
		t = append(t, n.Title)
	}
	return t
}

// alertGroup is the alert name of a notification's title: the shipped route
// groups by it, and a peer's stale view is a view of one group.
var alertGroup = regexp.MustCompile(`^\[[A-Z]+(?::\d+)?\] (\w+)`)

// withoutStaleEchoes removes from got (a phase's titles on one channel,
// before them the channel's earlier titles) each stale echo of the
// Alertmanager pair and says how many it removed. An echo is upstream
// behaviour of a cluster (alertmanager#3551, #2447): the two peers flush a
// group a moment apart (the moment grows on a loaded machine, as each
// timer is re-armed late); a change that arrives within it is seen by the
// first to flush, not by the other, whose flush, held back by its position
// times --cluster.peer-timeout, then finds the first's notification
// different from what it saw and sends its own, older, view; the next
// flush sends the current one again. So an echo is a title equal to the
// group's notification before the last one, followed by a repeat of that
// last one. Anything else (a plain duplicate, a missing message, a wrong
// one) stays and fails the phase.
func withoutStaleEchoes(before, got []string) ([]string, int) {
	history := map[string][]string{} // per group, every title so far
	for _, t := range before {
		if m := alertGroup.FindStringSubmatch(t); m != nil {
			history[m[1]] = append(history[m[1]], t)
		}
	}
	var kept []string
	echoes := 0
	for i := 0; i < len(got); i++ {
		m := alertGroup.FindStringSubmatch(got[i])
		if m != nil && i+1 < len(got) {
			h := history[m[1]]
			if len(h) >= 2 && got[i] == h[len(h)-2] && got[i+1] == h[len(h)-1] {
				echoes++
				i++
				continue
			}
		}
		kept = append(kept, got[i])
		if m != nil {
			history[m[1]] = append(history[m[1]], got[i])
		}
	}
	return kept, echoes
}

// watchExporters scrapes both serve replicas until stop is closed and
// reports every moment a host was not as recorded (unknown, or absent from
// the store) and every time a replica said the store unreadable for longer
// than storeDip. backupwatch_store_up is the truth about the last refresh:
// on a loaded machine a request can outlast --vault.timeout while the
// cluster elects or is merely slow, and a refresh fails. What is promised
// is that such a failure is retried within seconds, keeps every host as it
// was, and ends long before BackupStoreUnreachable's `for` (15m): so a dip
// is logged, and one longer than half that `for` is a failure.
func (s *haStack) watchExporters(stop <-chan struct{}) func() []string {
	var mu sync.Mutex
	var bad []string
	seen := map[string]bool{}
	scrapes := 0
	storeDip := 15 * s.minute / 2
	downSince := map[string]time.Time{} // replica -> first scrape with store_up 0
	unknownRE := regexp.MustCompile(`(?m)^backup_status\{[^}]*status="unknown"[^}]*\} 1$`)
	absentRE := regexp.MustCompile(`(?m)^backup_record_present\{[^}]*\} 0$`)
	storeRE := regexp.MustCompile(`(?m)^backupwatch_store_up(\{[^}]*\})? 0$`)
	dipEnded := func(u string, now time.Time) {
		since, ok := downSince[u]
		if !ok {
			return
		}
		delete(downSince, u)
		d := now.Sub(since)
		s.t.Logf("%s: backupwatch_store_up 0 for %v (a refresh failed, then succeeded)", u, d.Round(time.Millisecond))
		if d > storeDip {
			bad = append(bad, fmt.Sprintf("%s backupwatch_store_up 0 for %v, more than %v", u, d.Round(time.Millisecond), storeDip))
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, u := range s.serves {
				resp, err := httpClient.Get(u + "/metrics")
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				now := time.Now()
				mu.Lock()
				scrapes++
				for _, re := range []*regexp.Regexp{unknownRE, absentRE} {
					for _, line := range re.FindAllString(string(b), -1) {
						if k := u + " " + line; !seen[k] {
							seen[k] = true
							bad = append(bad, k)
						}
					}
				}
				if storeRE.Match(b) {
					if _, ok := downSince[u]; !ok {
						downSince[u] = now
					}
				} else {
					dipEnded(u, now)
				}
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		<-done
		mu.Lock()
		defer mu.Unlock()
		if scrapes == 0 {
			return []string{"no scrape of the exporters succeeded"}
		}
		for u, since := range downSince {
			bad = append(bad, fmt.Sprintf("%s backupwatch_store_up still 0 at the end, since %v", u, since.Format(time.RFC3339Nano)))
		}
		return bad
	}
}

// exported reports whether every serve replica serves line.
func (s *haStack) exported(line string) (bool, string) {
	for i, u := range s.serves {
		if done, _ := s.serveProcs[i].exited(); done {
			continue // stopped on purpose: the other serves
		}
		resp, err := httpClient.Get(u + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), line) {
			return false, u + " does not serve " + line
		}
	}
	return true, ""
}

// TestHA: the Vault cluster's active node killed during a refresh, during
// `record` and during `run`; two serve replicas, a Prometheus pair and an
// Alertmanager cluster. Every notification arrives once per channel,
// nothing is sent because of a failover, no result is lost (nothing even
// waits in the spool), no host turns unknown, and the dashboard's queries
// show each host once.
func TestHA(t *testing.T) {
	// One of the longest scenarios (its fail-overs and the 25 s freezes
	// take about 10 minutes): its slot is kept from the start, or it starts
	// last and runs alone at the suite's end.
	long := longScenario(t, 1)
	t.Parallel()
	nodes := hostNames("node", 10)
	hosts := append([]string{"db", "auth", "web"}, nodes...)
	s := startHA(t, hosts, long)
	stop := make(chan struct{})
	problems := s.watchExporters(stop)
	defer func() {
		close(stop)
		if p := problems(); len(p) > 0 {
			t.Errorf("while the Vault cluster failed over, the exporters served:\n%s", strings.Join(p, "\n"))
		}
	}()
	sl, em := 0, 0

	t.Log("db fails: one BackupFailed per channel, from two Prometheus, two Alertmanagers and two exporters")
	s.bw("record", "--status=failed", "--host=db", "--exit-code=10", "--message=Fatal: unable to open config file")
	sl, em = s.expect("db fails", sl, em, `^\[FIRING:1\] BackupFailed\b`)

	t.Log("the active Vault node is killed during the refreshes: nothing is sent")
	killed := s.vault.KillLeader(t)
	t.Logf("killed %s, new active node %s", killed.Addr, s.vault.Leader(t).Addr)
	sl, em = s.expect("leader killed during refresh", sl, em)

	t.Log("the active node is killed while ten hosts record failures: no write lost, one message")
	killed.Restart(t)
	s.vault.Leader(t)
	// Ten results written at once, as a storm arrives: what the Prometheus
	// pair scrapes is frozen meanwhile, so that writes a fail-over slows by
	// seconds (more on a loaded machine) still reach people as one storm,
	// not as the first few and then the rest one group interval later.
	s.freezeScrapes()
	// Each its own error: this test is about the HA pair, not storms (one
	// cause on ten hosts is BackupFailuresWidespread, TestInboxStorm).
	s.recordAll(nodes, func() { killed = s.vault.KillLeader(t) }, "--status=failed", "--exit-code=1", "--message=repository locked by {host}'s last run")
	waitFor(t, "both replicas to serve the ten failures", s.wait, func() (bool, string) {
		for _, h := range nodes {
			if ok, why := s.exported(fmt.Sprintf(`backup_status{host=%q,status="failed"} 1`, h)); !ok {
				return false, why
			}
		}
		return true, ""
	})
	s.thawScrapes()
	sl, em = s.expect("ten fail during a failover", sl, em, `^\[FIRING:11\] BackupFailed\b`)

	t.Log("the active node is killed while `run` runs a failing backup")
	killed.Restart(t)
	s.vault.Leader(t)
	// The program says it has started (run records the start before it
	// starts the program) and waits for the test to kill the active node.
	started, goOn := filepath.Join(s.dir, "web.started"), filepath.Join(s.dir, "web.go-on")
	run := s.bwCmd("run", "--host=web", "--log.file=", "--lock.file="+filepath.Join(s.dir, "web.lock"),
		"--", "sh", "-c", `: > "$1"; while [ ! -e "$2" ]; do sleep 0.05; done; echo 'Fatal: wrong password or no key found' >&2; exit 12`,
		"sh", started, goOn)
	var out lockedBuffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "run to start the backup program", s.wait, func() (bool, string) {
		_, err := os.Stat(started)
		return err == nil, out.String()
	})
	killed = s.vault.KillLeader(t)
	if err := os.WriteFile(goOn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := run.Wait()
	if code := run.ProcessState.ExitCode(); code != 12 {
		t.Errorf("run exited %d (%v), want the program's 12\n%s", code, err, out.String())
	}
	s.noSpool()
	waitFor(t, "both replicas to serve web's failure", s.wait, func() (bool, string) {
		return s.exported(`backup_status{host="web",status="failed"} 1`)
	})
	sl, em = s.expect("web fails during a failover", sl, em, `^\[FIRING:12\] BackupFailed\b`)

	// The dashboard's queries, against a Prometheus scraping both replicas
	// as two targets: every host once.
	waitFor(t, "the dashboard's Prometheus to scrape both replicas", s.wait, func() (bool, string) {
		n := promValue(s.dashURL, `count(backup_status{host="web",status="failed"} == 1)`)
		return n == "2", "web failed on " + n + " targets"
	})
	checkDashboardOnce(t, s.dashURL, len(hosts))

	// Partial breaks never lie (issue 18): with each Prometheus scraping
	// only its own replica, a replica down longer than the rules' 30m
	// window made its Prometheus send RESOLVED for failures that never
	// stopped and the other FIRING again, alternately. Now each scrapes
	// both: serve replica 1 down for three times the window while the
	// twelve keep failing, and Prometheus 2 hung for a third of it, sends
	// BackupExporterDown and nothing else.
	t.Log("serve replica 1 stops for three times the rules' 30m window while twelve hosts keep failing, Prometheus 2 hangs for a third of it: one BackupExporterDown, nothing about the hosts")
	down := time.Now()
	s.serveProcs[0].stop(t)
	sl, em = s.expect("a replica stops", sl, em, `^\[FIRING:1\] BackupExporterDown\b`)
	s.said(sl-1, em-1, `\b13 hosts when last scraped, 12 of them failing\b`)
	s.proms[1].pause(t)
	time.Sleep(time.Until(down.Add(45 * s.minute)))
	s.proms[1].resume(t)
	time.Sleep(time.Until(down.Add(90 * s.minute)))
	sl, em = s.expect("a replica down for three windows", sl, em)

	t.Log("the restore test fails while replica 1 is down: one RestoreTestFailed, from the other replica")
	s.bw("restore-test", "record", "--result=failed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m", "--notes=checksum mismatch in pack")
	sl, em = s.expect("the restore test fails while a replica is down", sl, em, `^\[FIRING:1\] RestoreTestFailed\b`)

	t.Log("all twelve recover while replica 1 is down, recorded while the active node is killed: one RESOLVED naming twelve")
	killed.Restart(t)
	s.vault.Leader(t)
	s.freezeScrapes()
	twelve := append([]string{"db", "web"}, nodes...)
	s.recordAll(twelve, func() { killed = s.vault.KillLeader(t) }, "--status=success")
	waitFor(t, "replica 2 to serve no failure", s.wait, func() (bool, string) {
		for _, h := range twelve {
			if ok, why := s.exported(fmt.Sprintf(`backup_status{host=%q,status="success"} 1`, h)); !ok {
				return false, why
			}
		}
		return true, ""
	})
	s.thawScrapes()
	sl, em = s.expect("all recover during a failover, a replica down", sl, em, `^\[RESOLVED\] BackupFailed\b`)
	s.said(sl-1, em-1, `\b12 resolved\b`)

	t.Log("auth fails next: [FIRING:1], and nothing says the recoveries happened since the last message")
	killed.Restart(t)
	s.vault.Leader(t)
	s.bw("record", "--status=failed", "--host=auth", "--exit-code=1", "--message=Fatal: unable to open config file")
	sl, em = s.expect("a new failure after a mass recovery", sl, em, `^\[FIRING:1\] BackupFailed\b`)
	s.said(sl-1, em-1, `\bauth\b`)
	s.notSaid(sl-1, em-1, `since the last message`)

	t.Log("replica 1 is back: BackupExporterDown resolved, nothing else sent again")
	s.startServe(0)
	sl, em = s.expect("the replica is back", sl, em, `^\[RESOLVED\] BackupExporterDown\b`)
}

// said fails unless the notifications at the given positions (Slack and
// email) each say re in every part a person reads.
func (s *haStack) said(slackAt, mailAt int, re string) {
	s.t.Helper()
	s.checkSaid(slackAt, mailAt, re, true)
}

// notSaid fails if one of them says re.
func (s *haStack) notSaid(slackAt, mailAt int, re string) {
	s.t.Helper()
	s.checkSaid(slackAt, mailAt, re, false)
}

func (s *haStack) checkSaid(slackAt, mailAt int, re string, want bool) {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	sl, em := s.notes()
	for _, n := range []*note{at(sl, slackAt), at(em, mailAt)} {
		if n == nil {
			s.t.Errorf("no notification at %d/%d to check for %q", slackAt, mailAt, re)
			continue
		}
		for _, p := range n.Parts {
			if rx.MatchString(p) != want {
				s.t.Errorf("%s %q: saying %q is %v, want %v:\n%s", n.Channel, n.Title, re, !want, want, p)
			}
		}
	}
}

func at(notes []note, i int) *note {
	if i < 0 || i >= len(notes) {
		return nil
	}
	return &notes[i]
}

// freezeScrapes holds what the Prometheus pair sees (scrapeFreezer), so
// that results written meanwhile reach Alertmanager together, while both
// go on evaluating and re-sending what they saw.
func (s *haStack) freezeScrapes() {
	for _, f := range s.freezers {
		f.freeze()
	}
	s.frozenAt = time.Now()
}

// thawScrapes lets the next scrapes through. The freeze lasts at least a
// resend delay longer than alerts stay valid without news from a
// Prometheus (4 resend delays), as writes slowed that much by a loaded
// machine would: nothing may resolve meanwhile.
func (s *haStack) thawScrapes() {
	s.t.Helper()
	time.Sleep(time.Until(s.frozenAt.Add(5 * s.resendDelay())))
	for _, f := range s.freezers {
		f.thaw()
	}
	s.t.Logf("the Prometheus pair saw no news for %v", time.Since(s.frozenAt).Round(time.Millisecond))
}

// resendDelay is the pair's --rules.alert.resend-delay: 2.5 scaled minutes.
func (s *haStack) resendDelay() time.Duration { return 5 * s.minute / 2 }

// recordAll records the same result ({host} in args replaced by each host) for many hosts at once, calls during
// while they run, and checks that every one was written (none spooled).
func (s *haStack) recordAll(hosts []string, during func(), args ...string) {
	s.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, len(hosts))
	for _, h := range hosts {
		wg.Go(func() {
			hostArgs := []string{"record", "--host=" + h}
			for _, a := range args {
				hostArgs = append(hostArgs, strings.ReplaceAll(a, "{host}", h))
			}
			if out, err := s.bwCmd(hostArgs...).CombinedOutput(); err != nil {
				errs <- fmt.Sprintf("record %s: %v: %s", h, err, out)
			}
		})
	}
	during()
	wg.Wait()
	close(errs)
	for e := range errs {
		s.t.Error(e)
	}
	s.noSpool()
}

// noSpool fails if a result waits in the spool: with every node given, a
// failover must not even delay a write.
func (s *haStack) noSpool() {
	s.t.Helper()
	var spooled []string
	filepath.WalkDir(filepath.Join(s.dir, "spool"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			spooled = append(spooled, p)
		}
		return nil
	})
	if len(spooled) > 0 {
		s.t.Errorf("results spooled instead of written through another node: %v", spooled)
	}
}

// checkDashboardOnce runs every query of the shipped dashboard with its
// variables at "all" and fails if a result shows a host twice.
func checkDashboardOnce(t *testing.T, promURL string, hosts int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(t), "grafana", "backupwatch.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string                  `json:"title"`
		Targets []struct{ Expr string } `json:"targets"`
		Panels  []json.RawMessage       `json:"panels"`
	}
	var exprs, titles []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if json.Unmarshal(raw, &p) != nil {
				continue
			}
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					exprs, titles = append(exprs, tg.Expr), append(titles, p.Title)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if len(exprs) == 0 {
		t.Fatal("the shipped dashboard has no queries")
	}
	vars := strings.NewReplacer(`"$job"`, `".+"`, `"$instance"`, `".+"`, "$__range", "1h", "$__rate_interval", "1m", "$__interval", "1m")
	for i, e := range exprs {
		q := vars.Replace(e)
		res, err := promSeries(promURL, q)
		if err != nil {
			t.Errorf("dashboard panel %q: %s: %v", titles[i], q, err)
			continue
		}
		byHost := map[string]int{}
		for _, m := range res {
			if h, ok := m["host"]; ok {
				byHost[h]++
			}
		}
		for h, n := range byHost {
			if n > 1 {
				t.Errorf("dashboard panel %q shows host %s %d times with two replicas: %s", titles[i], h, n, q)
			}
		}
		if strings.Contains(q, "backup_last_success_age_seconds") && len(byHost) != hosts {
			t.Errorf("dashboard panel %q: %d hosts, want %d", titles[i], len(byHost), hosts)
		}
	}
}

// TestWithoutStaleEchoes pins what TestHA forgives: the failure seen under
// stress-ng (the pair's stale RESOLVED between two FIRING) and nothing else.
func TestWithoutStaleEchoes(t *testing.T) {
	resolved := "[RESOLVED] BackupFailed db (and 11 more)"
	auth := "[FIRING:1] BackupFailed auth"
	down := "[FIRING:1] BackupExporterDown serve-2"
	for _, c := range []struct {
		name        string
		before, got []string
		kept        []string
		echoes      int
	}{
		{"clean", []string{resolved}, []string{auth}, []string{auth}, 0},
		{"stale echo", []string{resolved, down}, []string{auth, resolved, auth}, []string{auth}, 1},
		{"plain duplicate stays", []string{resolved}, []string{auth, auth}, []string{auth, auth}, 0},
		{"stale view never followed by the current one stays", []string{resolved}, []string{auth, resolved}, []string{auth, resolved}, 0},
		{"another group's title is no echo", []string{down}, []string{auth, down, auth}, []string{auth, down, auth}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			kept, echoes := withoutStaleEchoes(c.before, c.got)
			if !slices.Equal(kept, c.kept) || echoes != c.echoes {
				t.Errorf("withoutStaleEchoes(%q, %q) = %q, %d; want %q, %d", c.before, c.got, kept, echoes, c.kept, c.echoes)
			}
		})
	}
}
