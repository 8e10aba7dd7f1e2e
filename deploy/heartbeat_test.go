package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// pings records what a dead man's switch (ours or a hosted one) receives.
type pings struct {
	mu   sync.Mutex
	reqs []ping
}

type ping struct {
	Path        string
	ExternalURL string `json:"externalURL"`
	Status      string `json:"status"`
	Receiver    string `json:"receiver"`
	Alerts      []struct {
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func (p *pings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var pg ping
	_ = json.Unmarshal(b, &pg)
	pg.Path = r.URL.Path
	p.mu.Lock()
	p.reqs = append(p.reqs, pg)
	p.mu.Unlock()
	io.WriteString(w, "OK")
}

func (p *pings) snapshot() []ping {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ping(nil), p.reqs...)
}

// senders counts the heartbeats by the externalURL they carry.
func (p *pings) senders() map[string]int {
	out := map[string]int{}
	for _, pg := range p.snapshot() {
		out[pg.ExternalURL]++
	}
	return out
}

// freePort is a loopback address for a service the test starts
// (parts.FreeAddr: below the ephemeral range, each once per run).
func freePort(t *testing.T) string {
	t.Helper()
	return parts.FreeAddr(t)
}

// heartbeatConfig is a copy of the shipped alertmanager.yml for a test:
// the heartbeat URL pointed at url, Slack at slack, timings a 60th.
func heartbeatConfig(t *testing.T, url, slack string) string {
	t.Helper()
	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	webhook := filepath.Join(t.TempDir(), "slack-url")
	if err := os.WriteFile(webhook, []byte(slack+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := string(b)
	for _, r := range []struct{ old, new string }{
		{"http://deadman.example.org:10037/heartbeat", url},
		{"/etc/prometheus/alertmanager_templates/backupwatch.tmpl", tmpl},
		{"/etc/prometheus/alertmanager-slack-webhook-url", webhook},
		{"smtp.example.org:587", "127.0.0.1:1"},
		{"group_interval: 1m", "group_interval: 1s"},
		{"repeat_interval: 30s", "repeat_interval: 500ms"},
	} {
		if !strings.Contains(c, r.old) {
			t.Fatalf("alertmanager.yml has no %q to replace", r.old)
		}
		c = strings.ReplaceAll(c, r.old, r.new)
	}
	return c
}

// startAlertmanager runs one Alertmanager with cfg (a cluster peer of
// peer when gossip is set) and posts the Watchdog to it, as Prometheus
// does.
func startAlertmanager(t *testing.T, am, cfg, gossip, peer string) (base string) {
	t.Helper()
	base = runAlertmanager(t, am, cfg, gossip, peer)
	postWatchdog(t, base)
	return base
}

// runAlertmanager runs one Alertmanager with cfg (a cluster peer of peer,
// with a peer timeout of 3s, when gossip is set) and waits until it is
// ready.
func runAlertmanager(t *testing.T, am, cfg, gossip, peer string) (base string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	base = "http://" + addr
	args := []string{"--config.file=" + cfgPath, "--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--web.external-url=" + base}
	if gossip == "" {
		args = append(args, "--cluster.listen-address=")
	} else {
		args = append(args, "--cluster.listen-address="+gossip, "--cluster.advertise-address="+gossip, "--cluster.peer="+peer, "--cluster.peer-timeout=3s")
	}
	logs := &parts.LockedBuffer{}
	cmd := exec.Command(am, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("alertmanager %s log:\n%s", base, logs.String())
		}
	})
	waitUntil(t, "alertmanager ready", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("alertmanager %s exited before it was ready (%v); its log:\n%s", base, err, logs.String())
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// postWatchdog posts the always-firing Watchdog to the Alertmanager at
// base, as Prometheus does.
func postWatchdog(t *testing.T, base string) {
	t.Helper()
	body := `[{"labels":{"alertname":"BackupwatchWatchdog","severity":"none"},"annotations":{"summary":"The alerting path works: this alert always fires."}}]`
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
}

// TestHeartbeatRoute: through the real Alertmanager (Debian's and the
// current one) with the shipped route, the Watchdog reaches the heartbeat
// receiver again and again, carrying the sending Alertmanager's external
// URL, and never Slack.
func TestHeartbeatRoute(t *testing.T) {
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) {
			hb, slack := &pings{}, &pings{}
			hbSrv, slackSrv := httptest.NewServer(hb), httptest.NewServer(slack)
			defer hbSrv.Close()
			defer slackSrv.Close()
			base := startAlertmanager(t, am.Path, heartbeatConfig(t, hbSrv.URL+"/heartbeat", slackSrv.URL), "", "")
			waitUntil(t, "five heartbeats", func() bool { return len(hb.snapshot()) >= 5 })
			for _, p := range hb.snapshot() {
				if p.Path != "/heartbeat" || p.Status != "firing" || strings.TrimRight(p.ExternalURL, "/") != base || len(p.Alerts) != 1 || p.Alerts[0].Labels["alertname"] != "BackupwatchWatchdog" {
					t.Errorf("heartbeat %+v: want a firing Watchdog at /heartbeat from %s", p, base)
				}
			}
			if n := len(slack.snapshot()); n != 0 {
				t.Errorf("the Watchdog reached Slack %d times", n)
			}
		})
	}
}

// TestHeartbeatCluster: two gossiping Alertmanagers share their
// notification log, so with one receiver name a member skips the heartbeat
// the other has just sent; each member's copy naming the receiver after
// itself (as alertmanager.yml and docs/deployment.md say) makes both send,
// told apart by their external URLs.
//
// Deterministic on a busy machine: the Watchdog is posted only once both
// members see each other and gossip has settled, and repeat_interval is an
// hour, so each member's group has exactly one flush that may send: the
// first member in the cluster's order sends at once, the second waits the
// peer timeout (3s) for the first's log entry before deciding. A member's
// flushes run one after another, so once its notification log has been
// queried twice its first flush (and any send it made) is over.
func TestHeartbeatCluster(t *testing.T) {
	am := parts.DebianPart(t, "alertmanager")
	for _, rename := range []bool{false, true} {
		t.Run(fmt.Sprintf("own receiver names %v", rename), func(t *testing.T) {
			hb := &pings{}
			srv := httptest.NewServer(hb)
			defer srv.Close()
			cfg := heartbeatConfig(t, srv.URL+"/heartbeat", srv.URL+"/slack")
			if !strings.Contains(cfg, "repeat_interval: 500ms") {
				t.Fatal("the heartbeat route has no repeat_interval to lengthen")
			}
			cfg = strings.ReplaceAll(cfg, "repeat_interval: 500ms", "repeat_interval: 1h")
			g1, g2 := freePort(t), freePort(t)
			cfg2 := cfg
			if rename {
				cfg2 = strings.ReplaceAll(cfg, "'heartbeat'", "'heartbeat-am-2'")
			}
			b1 := runAlertmanager(t, am.Path, cfg, g1, g2)
			b2 := runAlertmanager(t, am.Path, cfg2, g2, g1)
			waitUntil(t, "both Alertmanagers to see each other, gossip settled", func() bool { return clusterReady(b1) && clusterReady(b2) })
			postWatchdog(t, b1)
			postWatchdog(t, b2)
			waitUntil(t, "each member's first flush to be over (its notification log queried twice)", func() bool {
				return nflogQueries(b1) >= 2 && nflogQueries(b2) >= 2
			})
			got := hb.senders()
			if rename && (got[b1] != 1 || got[b2] != 1) {
				t.Errorf("heartbeats by sender %v: want one from each of %s and %s", got, b1, b2)
			}
			if !rename && len(hb.snapshot()) != 1 {
				t.Errorf("heartbeats by sender %v: want one only (the shared notification log); if both send now, alertmanager.yml's advice is out of date", got)
			}
		})
	}
}

// nflogQueries is an Alertmanager's alertmanager_nflog_queries_total (-1
// when unreadable): each flush of a group queries the log once.
func nflogQueries(base string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^alertmanager_nflog_queries_total (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	var v float64
	if _, err := fmt.Sscan(string(m[1]), &v); err != nil {
		return -1
	}
	return v
}

// hostedSnippet is the receiver docs/deployment.md gives for a hosted
// switch (healthchecks.io), between its markers.
func hostedSnippet(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- hosted-switch -->\n```yaml\n(.*?)```\n<!-- /hosted-switch -->").FindSubmatch(b)
	if m == nil {
		t.Fatal("docs/deployment.md has no ```yaml block between <!-- hosted-switch --> and <!-- /hosted-switch -->")
	}
	return string(m[1])
}

// TestHostedSwitchSnippet: the docs' receiver for healthchecks.io, put in
// place of the shipped heartbeat receiver, is valid on both generations
// of Alertmanager and pings the check's URL (healthchecks takes a POST to
// https://hc-ping.com/<uuid> with any body) again and again.
func TestHostedSwitchSnippet(t *testing.T) {
	snippet := hostedSnippet(t)
	var recv []map[string]any
	if err := yaml.Unmarshal([]byte(snippet), &recv); err != nil || len(recv) != 1 || recv[0]["name"] != "heartbeat" {
		t.Fatalf("the snippet is not one receiver named heartbeat: %v\n%s", err, snippet)
	}
	const uuid = "5f0c4b9e-8a43-4b4a-9d4e-2f5e3a1b7c6d"
	if !strings.Contains(snippet, "https://hc-ping.com/"+uuid) {
		t.Fatalf("the snippet does not ping https://hc-ping.com/%s", uuid)
	}
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) {
			hc := &pings{}
			srv := httptest.NewServer(hc)
			defer srv.Close()
			cfg := heartbeatConfig(t, "http://unused.invalid/", srv.URL+"/slack")
			i := strings.Index(cfg, "  - name: 'heartbeat'\n")
			if i < 0 {
				t.Fatal("no heartbeat receiver in alertmanager.yml")
			}
			cfg = cfg[:i] + strings.ReplaceAll(snippet, "https://hc-ping.com/", srv.URL+"/")
			startAlertmanager(t, am.Path, cfg, "", "")
			waitUntil(t, "three pings", func() bool { return len(hc.snapshot()) >= 3 })
			for _, p := range hc.snapshot() {
				if p.Path != "/"+uuid {
					t.Errorf("a ping at %s, want /%s", p.Path, uuid)
				}
			}
		})
	}
}

// clusterReady says whether an Alertmanager sees both members and its
// gossip has settled (it holds notifications back until then).
func clusterReady(base string) bool {
	resp, err := http.Get(base + "/api/v2/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		Cluster struct {
			Status string `json:"status"`
			Peers  []any  `json:"peers"`
		} `json:"cluster"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return false
	}
	return st.Cluster.Status == "ready" && len(st.Cluster.Peers) == 2
}
