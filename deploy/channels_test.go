package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/parts/amconfig"
)

// channelPost is one request Alertmanager made to a channel's stand-in
// (amconfig.Stub), as the readers of channels take it.
type channelPost = amconfig.Post

// channel is one receiver snippet under test: its file, the path its
// stand-in listens at, and how to read a title and a body out of a post.
type channel struct {
	file    string
	prefix  string
	current bool // needs a newer Alertmanager than Debian's 0.25
	read    func(t *testing.T, p channelPost) (title, body string)
}

// channelSecrets are what the snippets' secret files hold.
var channelSecrets = amconfig.Secrets{PagerDuty: pdKey, Opsgenie: genieKey, Webhook: hookToken, Ntfy: ntfyToken, Teams: teamsToken}

// channelConfig is an Alertmanager configuration with the shipped Slack
// receiver and the snippets of chans, each snippet changed only where it
// names a secret file or the service's URL, which point into dir and at
// the stand-in srv (amconfig.Receivers).
func channelConfig(t *testing.T, dir, srv string, chans []channel) string {
	t.Helper()
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	var files []string
	for _, c := range chans {
		files = append(files, c.file)
	}
	var routes, receivers strings.Builder
	for _, r := range amconfig.Receivers(t, "alertmanager/receivers", dir, srv, channelSecrets, files...) {
		fmt.Fprintf(&routes, "    - receiver: '%s'\n      continue: true\n", r.Name)
		receivers.WriteString(r.YAML)
	}
	return fmt.Sprintf(`global:
  resolve_timeout: 5m
templates: ['%s']
route:
  receiver: 'default'
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4h
  routes:
    - receiver: 'backup-slack'
      continue: true
%sreceivers:
  - name: 'default'
  - name: 'backup-slack'
    slack_configs:
      - api_url_file: '%s'
        channel: '#infrastructure-alerts'
        send_resolved: true
        title: '{{ template "backupwatch.slack.title" . }}'
        text: '{{ template "backupwatch.slack.text" . }}'
%s`, tmpl, routes.String(), amconfig.SecretFile(t, dir, "slack", srv+"/slack"), receivers.String())
}

// channelAlerts are three hosts' BackupFailed alerts as backup.yml writes
// them (the reason, the status page link, the runbook), the third with a
// hostile name and description.
func channelAlerts(endsAt string) []amAlert {
	var alerts []amAlert
	for _, h := range []string{"db", "web", "<!channel> [click](http://evil.example/) \"q\" \\ end"} {
		alerts = append(alerts, amAlert{
			Labels: map[string]string{"alertname": "BackupFailed", "host": h, "severity": "critical", "instance": "metrics:10036", "job": "backupwatch"},
			Annotations: map[string]string{
				"summary":     "Backup failed for " + h,
				"description": "The most recent backup attempt for " + h + ` failed with exit code 1: "Fatal: unable to open config file". Check /var/log/restic-backup.log on the affected host. Status page: http://status.example.org/?q=` + url.QueryEscape(h) + "#host-" + url.QueryEscape(h),
				"runbook_url": runbookURL + "backupfailed",
			},
			EndsAt: endsAt,
		})
	}
	alerts[2].Annotations["description"] += "\n[evil](http://evil.example/) \"quoted\" \\ {{ .Alerts }}"
	return alerts
}

func postAlerts(t *testing.T, base string, alerts []amAlert) {
	t.Helper()
	body, _ := json.Marshal(alerts)
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s %s", resp.Status, b)
	}
}

// TestChannels: each receiver snippet in alertmanager/receivers/, run by a
// live Alertmanager (Debian's 0.25 with those it supports, the current
// release with all) beside the shipped Slack receiver, posts to its
// stand-in what the Slack message says: what failed and how many, why
// (the recorded error), the status page link, the alert's section of
// docs/alerts.md; then the resolution. Secrets come from their files, and
// no hostile value becomes a markdown link.
func TestChannels(t *testing.T) {
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) {
			var chans []channel
			for _, c := range channels {
				if !c.current || am.Generation == parts.Current {
					chans = append(chans, c)
				}
			}
			testChannels(t, am.Path, chans)
		})
	}
}

func testChannels(t *testing.T, am string, chans []channel) {
	stub := amconfig.NewStub(t)
	base := runAlertmanager(t, am, channelConfig(t, t.TempDir(), stub.URL, chans), "", "")

	postAlerts(t, base, channelAlerts(""))
	all := append([]channel{{file: "slack", prefix: "/slack"}}, chans...)
	waitUntil(t, "a post at every channel", func() bool {
		for _, c := range all {
			if len(stub.Posts(c.prefix, 0)) == 0 {
				return false
			}
		}
		return true
	})
	slackTitle := slack(t, stub.Posts("/slack", 0)[0])
	if !strings.HasPrefix(slackTitle, "[FIRING:3] BackupFailed: Backup failed for ") || !strings.HasSuffix(slackTitle, " (and 2 more)") {
		t.Errorf("Slack title %q", slackTitle)
	}
	for _, c := range chans {
		title, body := c.read(t, stub.Posts(c.prefix, 0)[0])
		checkChannel(t, c.file, title, body, true)
	}

	postAlerts(t, base, channelAlerts(time.Now().Add(-time.Second).UTC().Format(time.RFC3339)))
	waitUntil(t, "a second post (the resolution) at every channel", func() bool {
		for _, c := range all {
			if len(stub.Posts(c.prefix, 0)) < 2 {
				return false
			}
		}
		return true
	})
	for _, c := range chans {
		posts := stub.Posts(c.prefix, 0)
		title, body := c.read(t, posts[len(posts)-1])
		checkChannel(t, c.file, title, body, false)
	}
	for _, p := range stub.Posts("/", 0) {
		for _, s := range channelSecrets.All() {
			if bytes.Contains(p.Body, []byte(s)) && !(s == pdKey && strings.HasPrefix(p.Path, "/pagerduty")) {
				t.Errorf("%s: a secret in the body: %s", p.Path, p.Body)
			}
		}
	}
}

// slack returns a Slack post's title after checking its text carries what
// the other channels are checked for.
func slack(t *testing.T, p channelPost) string {
	var m struct {
		Attachments []struct{ Title, Text string } `json:"attachments"`
	}
	decode(t, p.Body, &m)
	if len(m.Attachments) != 1 {
		t.Fatalf("slack: want one attachment: %s", p.Body)
	}
	checkChannel(t, "slack", m.Attachments[0].Title, m.Attachments[0].Text, true)
	return m.Attachments[0].Title
}

// checkChannel checks one message for the Slack message's content.
func checkChannel(t *testing.T, name, title, body string, firing bool) {
	t.Helper()
	all := title + "\n" + body
	if !firing {
		if !strings.Contains(strings.ToUpper(title), "RESOLVED") {
			t.Errorf("%s: resolution titled %q", name, title)
		}
		if name != "opsgenie.yml" && (!strings.Contains(body, "db") || !strings.Contains(body, "web")) {
			t.Errorf("%s: the resolution does not name db and web:\n%s", name, body)
		}
		return
	}
	for _, want := range []string{"BackupFailed", "3", "db", "web",
		"unable to open config file",              // why
		"http://status.example.org/?q=db#host-db", // the status page
		runbookURL + "backupfailed"} {             // what to do
		if !strings.Contains(all, want) {
			t.Errorf("%s: no %q in\n%s\n%s", name, want, title, body)
		}
	}
	// Teams renders markdown (the others here show text as it is, Slack
	// has its own escaping): no recorded value may make a link there.
	if strings.Contains(all, "](http://evil") && (name == "msteams.yml" || name == "pagerduty.yml" || name == "opsgenie.yml") {
		t.Errorf("%s: a hostile value makes a markdown link:\n%s", name, all)
	}
	// Values arrive whole, quotes and backslashes included (the ntfy
	// payload's JSON literals).
	if name == "ntfy.yml" && !strings.Contains(all, `[click](http://evil.example/) "q" \ end`) {
		t.Errorf("%s: the hostile host's name does not arrive as it is:\n%s", name, all)
	}

	if strings.Contains(all, "<no value>") {
		t.Errorf("%s: <no value> in\n%s", name, all)
	}
}
