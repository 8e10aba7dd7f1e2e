package deploy

import (
	"bytes"
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
	"time"
	"unicode/utf8"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// amAlert is an alert as Alertmanager's templates see it (template.Alert)
// and as its API takes it.
type amAlert struct {
	Status       string            `json:"status,omitempty"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	Fingerprint  string            `json:"fingerprint,omitempty"`
}

// hostile are values a host can record or a store can hold, which reach
// labels and annotations: none may break a template or reach Slack or an
// email as markup.
var hostile = []string{
	"line one\nline two\r\nSubject: injected\n\n",
	"<script>alert(1)</script><b>bold</b>",
	"<!channel> <!here> <@U012345> <http://evil.example/|click here>",
	`{{ template "backupwatch.title" . }} {{ .Alerts }} {{`,
	"\x1b[31mred\x1b[0m \x00 \u2028 \u202e reversed \u200b\ufeff",
	"& &amp; &lt; ' \"",
	strings.Repeat("é", 5000),
	strings.Repeat("A", 4<<20),
}

// failedAlerts returns n BackupFailed alerts as backup.yml makes them,
// with hostile values mixed in.
func failedAlerts(n int, status string) []amAlert {
	alerts := make([]amAlert, n)
	for i := range alerts {
		host := fmt.Sprintf("host-%03d", i)
		msg := "Fatal: unable to open config file"
		if i < len(hostile) {
			msg = hostile[i]
		}
		alerts[i] = amAlert{
			Status: status,
			Labels: map[string]string{"alertname": "BackupFailed", "host": host, "severity": "critical", "status": "failed", "instance": "metrics:10036", "job": "backupwatch"},
			Annotations: map[string]string{
				"summary":     "Backup failed for " + host,
				"description": "The most recent backup attempt for " + host + ` failed with exit code 1: "` + msg + `". Check /var/log/restic-backup.log on the affected host.`,
				"runbook_url": runbookURL + "backupfailed",
			},
			StartsAt: "2026-12-01T07:00:00Z", EndsAt: "0001-01-01T00:00:00Z",
			Fingerprint: fmt.Sprintf("%016x", i),
		}
		if status == "resolved" {
			alerts[i].EndsAt = "2026-12-01T08:00:00Z"
		}
	}
	if n > 1 {
		alerts[1].Labels["host"] = hostile[2] + hostile[0]
		alerts[1].Annotations["summary"] = hostile[len(hostile)-1]
	}
	if n > 2 {
		alerts[2].Labels["host"] = hostile[len(hostile)-2]
		alerts[2].Annotations["runbook_url"] = "javascript:alert(1)"
	}
	return alerts
}

// withJob gives the first alert a backup_job label, as a job's alert has.
func withJob(alerts []amAlert, job string) []amAlert {
	alerts[0].Labels["backup_job"] = job
	return alerts
}

func countFiring(alerts []amAlert) int {
	n := 0
	for _, a := range alerts {
		if a.Status == "firing" {
			n++
		}
	}
	return n
}

// templateData is Alertmanager's template.Data for a group of alerts.
func templateData(alerts []amAlert) map[string]any {
	status := "resolved"
	for _, a := range alerts {
		if a.Status == "firing" {
			status = "firing"
		}
	}
	return map[string]any{
		"receiver": "backup-slack", "status": status, "alerts": alerts,
		"groupLabels": map[string]string{"alertname": "BackupFailed"}, "commonLabels": map[string]string{"alertname": "BackupFailed"},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager:9093", "groupKey": "{}:{alertname=\"BackupFailed\"}",
	}
}

// render runs amtool on the shipped template with data.
func render(t *testing.T, amtool string, data map[string]any, define, typ string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "data.json")
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(amtool, "template", "render", "--template.glob=alertmanager/backupwatch.tmpl",
		"--template.type="+typ, "--template.data="+f, `--template.text={{ template "`+define+`" . }}`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("amtool template render %s: %v\n%s", define, err, stderr.String())
	}
	return stdout.String()
}

var hostRe = regexp.MustCompile(`host-\d{3}`)

// testCase is one group of alerts for TestTemplates.
type testCase struct {
	name      string
	alerts    []amAlert
	title     string // the title's start
	more      string // "and N more" in the text, "" for none
	firstHost string
}

// TestTemplates renders every message of backupwatch.tmpl through amtool
// (Alertmanager's own template code), Debian's 0.25 and the current one, for one host, for 12 and for
// 500 hosts at once, firing, resolved and both, with hostile values: none
// fails, each is bounded, names at most ten hosts and says how many more,
// and no value reaches Slack or the HTML email as markup.
func TestTemplates(t *testing.T) {
	mixed := append(failedAlerts(12, "firing"), failedAlerts(3, "resolved")...)
	for i := 12; i < len(mixed); i++ {
		mixed[i].Labels["host"] = fmt.Sprintf("old-%d", i)
	}
	tests := []testCase{
		{"one host", failedAlerts(1, "firing"), "[FIRING:1] BackupFailed: Backup failed for host-000", "", "host-000"},
		{"one host resolved", failedAlerts(1, "resolved"), "[RESOLVED] BackupFailed: Backup failed for host-000", "", "host-000"},
		{"12 hosts", failedAlerts(12, "firing"), "[FIRING:12] BackupFailed: Backup failed for host-000 (and 11 more)", "and 2 more", "host-000"},
		{"500 hosts", failedAlerts(500, "firing"), "[FIRING:500] BackupFailed: Backup failed for host-000 (and 499 more)", "and 490 more", "host-000"},
		{"500 resolved", failedAlerts(500, "resolved"), "[RESOLVED] BackupFailed: Backup failed for host-000 (and 499 more)", "and 490 more", "host-000"},
		{"firing and resolved", mixed, "[FIRING:12] BackupFailed: Backup failed for host-000 (and 11 more)", "and 2 more", "host-000"},
		{"no annotations", []amAlert{{Status: "firing", Labels: map[string]string{"alertname": "BackupFailed"}}}, "[FIRING:1] BackupFailed: ", "", ""},
		{"a job", withJob(failedAlerts(2, "firing"), "files"), "[FIRING:2] BackupFailed: Backup failed for host-000 (job files) (and 1 more)", "", "host-000"},
		{"a hostile job", withJob(failedAlerts(1, "firing"), hostile[1]+hostile[0]), "[FIRING:1] BackupFailed: Backup failed for host-000 (job ", "", "host-000"},
	}
	for _, amtool := range parts.Both(t, "amtool") {
		for _, tt := range tests {
			t.Run(amtool.String()+"/"+tt.name, func(t *testing.T) {
				testTemplate(t, amtool, tt)
			})
		}
	}
}

// testTemplate renders each message of one case with amtool and checks it.
func testTemplate(t *testing.T, amtool parts.Part, tt testCase) {
	data := templateData(tt.alerts)
	for _, m := range []struct {
		define, typ string
		maxBytes    int
		slack, html bool
	}{
		{"backupwatch.slack.title", "text", 1024, true, false},
		{"backupwatch.slack.text", "text", 30000, true, false},
		{"backupwatch.email.subject", "text", 1024, false, false},
		{"backupwatch.email.text", "text", 30000, false, false},
		{"backupwatch.email.html", "html", 60000, false, true},
	} {
		got := render(t, amtool.Path, data, m.define, m.typ)
		if len(got) > m.maxBytes {
			t.Errorf("%s: %d bytes, want at most %d", m.define, len(got), m.maxBytes)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s: not valid UTF-8", m.define)
		}
		if strings.ContainsAny(got, "\x00\x1b\u202e\u2028\ufeff") {
			t.Errorf("%s: a control or bidi character reaches the message: %q", m.define, got)
		}
		if strings.Contains(got, "<no value>") {
			t.Errorf("%s: <no value> in\n%s", m.define, got)
		}
		if strings.HasSuffix(m.define, "title") || strings.HasSuffix(m.define, "subject") {
			if strings.ContainsAny(got, "\r\n") {
				t.Errorf("%s: %q is more than one line", m.define, got)
			}
			if want := strings.ReplaceAll(tt.title, "&", "&amp;"); !strings.HasPrefix(got, want) {
				t.Errorf("%s = %q, want it to start %q", m.define, got, want)
			}
			continue
		}
		if tt.firstHost != "" && !strings.Contains(got, tt.firstHost) {
			t.Errorf("%s: does not name %s:\n%s", m.define, tt.firstHost, got)
		}
		if n := len(tt.alerts) - countFiring(tt.alerts); n > 0 && countFiring(tt.alerts) > 0 && !strings.Contains(got, fmt.Sprintf("%d recently resolved", n)) {
			t.Errorf("%s: no \"%d recently resolved\":\n%s", m.define, n, got)
		}
		if tt.more != "" && !strings.Contains(got, tt.more) {
			t.Errorf("%s: no %q:\n%s", m.define, tt.more, got)
		}
		names := map[string]bool{}
		for _, h := range hostRe.FindAllString(got, -1) {
			names[h] = true
		}
		if len(names) > 10 {
			t.Errorf("%s: names %d hosts, want at most 10", m.define, len(names))
		}
		for line := range strings.Lines(got) {
			if utf8.RuneCountInString(line) > 3000 {
				t.Errorf("%s: a line of %d characters", m.define, utf8.RuneCountInString(line))
			}
		}
		if m.slack {
			for _, raw := range []string{"<!channel>", "<!here>", "<@U012345>", "<http://evil", "<script", "<b>"} {
				if strings.Contains(got, raw) {
					t.Errorf("%s: %q reaches Slack unescaped:\n%s", m.define, raw, got)
				}
			}
		}
		if m.html {
			for _, raw := range []string{"<script", "<b>bold", "javascript:", `<a href="http://evil`} {
				if strings.Contains(got, raw) {
					t.Errorf("%s: %q reaches the HTML unescaped", m.define, raw)
				}
			}
		}
		if tt.alerts[0].Annotations["runbook_url"] != "" && !strings.Contains(got, runbookURL+"backupfailed") {
			t.Errorf("%s: no runbook link", m.define)
		}
	}
}

// slackStub records what Alertmanager posts to Slack.
type slackStub struct {
	mu    sync.Mutex
	posts []map[string]any
}

func (s *slackStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		m = map[string]any{"unparsable": string(b)}
	}
	m["bytes"] = len(b)
	s.mu.Lock()
	s.posts = append(s.posts, m)
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

// titles returns the attachment titles posted so far.
func (s *slackStub) titles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.posts {
		atts, _ := p["attachments"].([]any)
		for _, a := range atts {
			if m, ok := a.(map[string]any); ok {
				out = append(out, fmt.Sprint(m["title"]))
			}
		}
	}
	return out
}

// TestAlertmanagerGroupsAndInhibits runs Alertmanager (Debian's 0.25 and
// the current release) with the
// shipped route, inhibit rules and templates (only the webhook, the mail
// relay and the timings changed, in a copy) and posts alerts to its API:
// 500 hosts failing at once are one Slack post naming ten and "and 490
// more"; a store outage holds back the unknown and overdue hosts of its
// exporter, not those of another; and the exporter down holds back its
// hosts' failures.
func TestAlertmanagerGroupsAndInhibits(t *testing.T) {
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) { testAlertmanager(t, am.Path) })
	}
}

func testAlertmanager(t *testing.T, am string) {
	slack := &slackStub{}
	srv := httptest.NewServer(slack)
	defer srv.Close()

	dir := t.TempDir()
	cfg, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	webhook := filepath.Join(dir, "slack-url")
	if err := os.WriteFile(webhook, []byte(srv.URL+"/hook\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := string(cfg)
	for _, r := range []struct{ old, new string }{
		{"/etc/prometheus/alertmanager_templates/backupwatch.tmpl", tmpl},
		{"/etc/prometheus/alertmanager-slack-webhook-url", webhook},
		{"smtp.example.org:587", "127.0.0.1:1"}, // email fails; Slack must not care
		{"group_wait: 30s", "group_wait: 1s"},
		{"group_wait: 2m", "group_wait: 1s"},
		{"group_interval: 5m", "group_interval: 2s"},
	} {
		if !strings.Contains(c, r.old) {
			t.Fatalf("alertmanager.yml has no %q to replace", r.old)
		}
		c = strings.ReplaceAll(c, r.old, r.new)
	}
	base := runAlertmanager(t, am, c, "", "")
	client := &http.Client{Timeout: 10 * time.Second}

	alert := func(name string, labels ...string) amAlert {
		a := amAlert{Labels: map[string]string{"alertname": name, "severity": "critical"}, Annotations: map[string]string{"summary": name + " summary", "description": name + " description"}}
		for i := 0; i+1 < len(labels); i += 2 {
			a.Labels[labels[i]] = labels[i+1]
		}
		return a
	}
	var alerts []amAlert
	for _, a := range failedAlerts(500, "") {
		a.Labels["instance"] = "metrics-b:10036"
		a.StartsAt, a.EndsAt, a.Fingerprint = "", "", ""
		alerts = append(alerts, a)
	}
	alerts = append(alerts,
		alert("BackupStoreUnreachable", "instance", "metrics-a:10036"),
		alert("BackupStatusUnknown", "instance", "metrics-a:10036", "host", "held-1"),
		alert("BackupNotRunIn24Hours", "instance", "metrics-a:10036", "host", "held-2"),
		alert("BackupStatusUnknown", "instance", "metrics-c:10036", "host", "shown"),
		alert("BackupExporterDown", "instance", "metrics-d:10036"),
		alert("BackupFailed", "instance", "metrics-d:10036", "host", "held-3"),
		alert("BackupOverdue", "instance", "metrics-d:10036", "host", "held-4", "backup_job", "db"),
		alert("BackupOverdue", "instance", "metrics-a:10036", "host", "held-5", "backup_job", "db"),
	)
	body, _ := json.Marshal(alerts)
	resp, err := client.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %d %s", resp.StatusCode, b)
	}

	// Which alerts are held back, as Alertmanager's API says.
	type apiAlert struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State       string   `json:"state"`
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
	}
	wantState := map[string]string{
		"BackupStatusUnknown/held-1/metrics-a:10036":   "suppressed",
		"BackupNotRunIn24Hours/held-2/metrics-a:10036": "suppressed",
		"BackupFailed/held-3/metrics-d:10036":          "suppressed",
		"BackupOverdue/held-4/metrics-d:10036":         "suppressed",
		"BackupOverdue/held-5/metrics-a:10036":         "suppressed",
		"BackupStatusUnknown/shown/metrics-c:10036":    "active",
		"BackupFailed/host-007/metrics-b:10036":        "active",
		"BackupStoreUnreachable//metrics-a:10036":      "active",
		"BackupExporterDown//metrics-d:10036":          "active",
	}
	state := map[string]string{}
	matches := func() bool {
		for key, want := range wantState {
			if state[key] != want {
				return false
			}
		}
		return true
	}
	// The inhibitor takes in the sources as they arrive: poll until the
	// states settle, then compare.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := client.Get(base + "/api/v2/alerts"); err == nil {
			var got []apiAlert
			if json.NewDecoder(resp.Body).Decode(&got) == nil {
				for _, a := range got {
					state[a.Labels["alertname"]+"/"+a.Labels["host"]+"/"+a.Labels["instance"]] = a.Status.State
				}
			}
			resp.Body.Close()
		}
		if matches() || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for key, want := range wantState {
		if got := state[key]; got != want {
			t.Errorf("%s: state %q, want %q", key, got, want)
		}
	}

	// One Slack post per alertname with something active: BackupFailed
	// (500 hosts, one post), BackupStatusUnknown (only "shown"),
	// BackupStoreUnreachable, BackupExporterDown. None for the held-back
	// BackupNotRunIn24Hours.
	want := map[string]*regexp.Regexp{
		"BackupFailed":           regexp.MustCompile(`^\[FIRING:500\] BackupFailed: .{1,210} \(and 499 more\)$`),
		"BackupStatusUnknown":    regexp.MustCompile(`^\[FIRING:1\] BackupStatusUnknown: BackupStatusUnknown summary$`),
		"BackupStoreUnreachable": regexp.MustCompile(`^\[FIRING:1\] BackupStoreUnreachable: `),
		"BackupExporterDown":     regexp.MustCompile(`^\[FIRING:1\] BackupExporterDown: `),
	}
	waitUntil(t, "a Slack post for each active group", func() bool { return len(slack.titles()) >= len(want) })
	// Settle: three group intervals more, then nothing else may have come.
	time.Sleep(6 * time.Second)
	titles := slack.titles()
	if len(titles) != len(want) {
		t.Errorf("Slack posts: %d, want %d: %q", len(titles), len(want), titles)
	}
	for _, title := range titles {
		name := ""
		if f := strings.Fields(title); len(f) > 1 {
			name = strings.TrimSuffix(f[1], ":")
		}
		if re, ok := want[name]; !ok || !re.MatchString(title) {
			t.Errorf("Slack title %q: want one of %v", title, want)
		}
	}
	slack.mu.Lock()
	defer slack.mu.Unlock()
	for _, p := range slack.posts {
		if n := p["bytes"].(int); n > 16<<10 {
			t.Errorf("a Slack post of %d bytes", n)
		}
		atts, _ := p["attachments"].([]any)
		for _, a := range atts {
			m, _ := a.(map[string]any)
			text := fmt.Sprint(m["text"])
			if strings.HasPrefix(fmt.Sprint(m["title"]), "[FIRING:500]") {
				if !strings.Contains(text, "and 490 more") || strings.Contains(text, "<!channel>") || len(hostRe.FindAllString(text, -1)) > 20 {
					t.Errorf("the 500 hosts' post: want ten hosts, \"and 490 more\" and no raw <!channel>:\n%s", text)
				}
			}
		}
	}
}

// waitUntil polls cond until it holds, failing the test after a deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 60s for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
