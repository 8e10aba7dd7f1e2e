package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"text/template"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// The other channels (issue 20, item 5): the receiver snippets in
// deploy/alertmanager/receivers/, added to the shipped alertmanager.yml as
// docs/deployment.md says (a route with `continue: true` before the
// fleet-wide ones, the snippet under `receivers:`), each posting to a
// stand-in of its service. deploy's TestChannels renders them from posted
// alerts; here they come from the real rules, exporter and records.

// Secrets the snippets read from files: each reaches its channel as its
// credential and no message.
const (
	chanPDKey      = "R0UTINGKEYe2e0b2c3d4e5f60718293a4b"
	chanGenieKey   = "0b3e6c2a-0000-4000-8000-e2e-genie"
	chanHookToken  = "hook-token-e2e-s3cret"
	chanNtfyToken  = "tk_ntfye2esecret0123456789"
	chanTeamsToken = "sig=teams-e2e-signature"
)

// chanPost is one request Alertmanager made to a channel's stand-in.
type chanPost struct {
	path, query, auth string
	body              []byte
}

// chanStub stands in for every channel's API at once, telling them apart
// by path, and answers as each does on success.
type chanStub struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts []chanPost
}

func newChanStub(t *testing.T) *chanStub {
	s := &chanStub{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.posts = append(s.posts, chanPost{r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), b})
		s.mu.Unlock()
		switch {
		case strings.HasPrefix(r.URL.Path, "/pagerduty"):
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
		case strings.HasPrefix(r.URL.Path, "/opsgenie"):
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"result":"Request will be processed","took":0.1,"requestId":"x"}`)
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// byPrefix returns the posts whose path starts with prefix, from the
// from-th post on.
func (s *chanStub) byPrefix(prefix string, from int) []chanPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []chanPost
	for _, p := range s.posts[from:] {
		if strings.HasPrefix(p.path, prefix) {
			out = append(out, p)
		}
	}
	return out
}

func (s *chanStub) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.posts)
}

// otherChannel is one receiver snippet: its file, where its stand-in
// listens, what it replaces in the snippet (secret files, the service's
// URL), and how a person would read a post: its text, and whether it
// resolves.
type otherChannel struct {
	file, prefix string
	current      bool // needs a newer Alertmanager than Debian's 0.25
	replace      func(srv string, secret func(name, value string) string) [][2]string
	read         func(t *testing.T, p chanPost) (text string, resolved bool)
}

var otherChannels = []otherChannel{
	{"pagerduty.yml", "/pagerduty", false,
		func(srv string, secret func(string, string) string) [][2]string {
			return [][2]string{{"routing_key_file: '/etc/prometheus/alertmanager-pagerduty-routing-key'",
				"routing_key_file: '" + secret("pd", chanPDKey) + "'\n      url: '" + srv + "/pagerduty/v2/enqueue'"}}
		},
		func(t *testing.T, p chanPost) (string, bool) {
			var ev struct {
				RoutingKey  string `json:"routing_key"`
				EventAction string `json:"event_action"`
				Payload     struct {
					Summary string         `json:"summary"`
					Details map[string]any `json:"custom_details"`
				} `json:"payload"`
				Links []struct{ Href, Text string } `json:"links"`
			}
			decodeJSON(t, p.body, &ev)
			if ev.RoutingKey != chanPDKey {
				t.Errorf("pagerduty: routing_key %q, want the one in routing_key_file", ev.RoutingKey)
			}
			text := fmt.Sprintf("%s\n%v\n%v", ev.Payload.Summary, ev.Payload.Details["firing"], ev.Payload.Details["resolved"])
			for _, l := range ev.Links {
				text += "\n" + l.Text + ": " + l.Href
			}
			return text, ev.EventAction == "resolve"
		}},
	{"opsgenie.yml", "/opsgenie", false,
		func(srv string, secret func(string, string) string) [][2]string {
			return [][2]string{{"api_key_file: '/etc/prometheus/alertmanager-opsgenie-api-key'",
				"api_key_file: '" + secret("genie", chanGenieKey) + "'\n      api_url: '" + srv + "/opsgenie/'"}}
		},
		func(t *testing.T, p chanPost) (string, bool) {
			if p.auth != "GenieKey "+chanGenieKey {
				t.Errorf("opsgenie: Authorization %q, want the key in api_key_file", p.auth)
			}
			if strings.HasSuffix(p.path, "/close") {
				return p.path, true // Opsgenie closes the alert it opened: no text
			}
			var a struct {
				Message, Description string
				Details              map[string]string
			}
			decodeJSON(t, p.body, &a)
			return a.Message + "\n" + a.Description + "\n" + a.Details["runbook_url"], false
		}},
	{"msteams.yml", "/teams", true,
		func(srv string, secret func(string, string) string) [][2]string {
			return [][2]string{{"/etc/prometheus/alertmanager-teams-webhook-url", secret("teams", srv+"/teams/workflow?"+chanTeamsToken)}}
		},
		func(t *testing.T, p chanPost) (string, bool) {
			var m struct {
				Attachments []struct {
					Content struct {
						Body []struct{ Text string } `json:"body"`
					} `json:"content"`
				} `json:"attachments"`
			}
			decodeJSON(t, p.body, &m)
			var text []string
			for _, a := range m.Attachments {
				for _, b := range a.Content.Body {
					text = append(text, b.Text)
				}
			}
			return strings.Join(text, "\n"), len(text) > 0 && strings.Contains(strings.ToUpper(text[0]), "RESOLVED")
		}},
	{"webhook.yml", "/webhook", false,
		func(srv string, secret func(string, string) string) [][2]string {
			return [][2]string{{"https://hooks.example.org/backupwatch", srv + "/webhook"}, {"/etc/prometheus/alertmanager-webhook-token", secret("hook", chanHookToken)}}
		},
		func(t *testing.T, p chanPost) (string, bool) {
			if p.auth != "Bearer "+chanHookToken {
				t.Errorf("webhook: Authorization %q, want the token in credentials_file", p.auth)
			}
			var m struct {
				Status       string
				CommonLabels map[string]string `json:"commonLabels"`
				Alerts       []struct {
					Labels, Annotations map[string]string
				}
			}
			decodeJSON(t, p.body, &m)
			text := fmt.Sprintf("[%s:%d] %s", strings.ToUpper(m.Status), len(m.Alerts), m.CommonLabels["alertname"])
			for _, a := range m.Alerts {
				text += fmt.Sprintf("\n%s: %s %s", a.Labels["host"], a.Annotations["description"], a.Annotations["runbook_url"])
			}
			return text, m.Status == "resolved"
		}},
	{"ntfy.yml", "/ntfy/", true,
		func(srv string, secret func(string, string) string) [][2]string {
			return [][2]string{{"https://ntfy.sh/", srv + "/ntfy/"}, {"/etc/prometheus/alertmanager-ntfy-token", secret("ntfy", chanNtfyToken)}}
		},
		func(t *testing.T, p chanPost) (string, bool) {
			if p.auth != "Bearer "+chanNtfyToken {
				t.Errorf("ntfy: Authorization %q, want the token in credentials_file", p.auth)
			}
			var m struct {
				Title, Message string
				Actions        []struct{ Label, URL string }
			}
			decodeJSON(t, p.body, &m)
			text := m.Title + "\n" + m.Message
			for _, a := range m.Actions {
				text += "\n" + a.Label + ": " + a.URL
			}
			return text, strings.Contains(strings.ToUpper(m.Title), "RESOLVED")
		}},
	{"ntfy-0.25.yml", "/ntfy25/", false,
		func(srv string, secret func(string, string) string) [][2]string {
			return [][2]string{{"https://ntfy.sh/backups?", srv + "/ntfy25/backups?"}, {"/etc/prometheus/alertmanager-ntfy-token", secret("ntfy", chanNtfyToken)},
				{"name: 'backup-ntfy'", "name: 'backup-ntfy-025'"}}
		},
		func(t *testing.T, p chanPost) (string, bool) {
			if p.auth != "Bearer "+chanNtfyToken {
				t.Errorf("ntfy (0.25): Authorization %q, want the token in credentials_file", p.auth)
			}
			// ntfy renders its templates (Go's text/template) over the
			// JSON body: done here the same way, ntfy itself is not run.
			q, err := url.ParseQuery(p.query)
			if err != nil || q.Get("tpl") != "1" {
				t.Fatalf("ntfy (0.25): query %q: want tpl=1 (%v)", p.query, err)
			}
			var data any
			decodeJSON(t, p.body, &data)
			var text []string
			for _, k := range []string{"t", "m"} {
				tmpl, err := template.New(k).Parse(q.Get(k))
				if err != nil {
					t.Fatalf("ntfy (0.25): template %s: %v", k, err)
				}
				var b bytes.Buffer
				if err := tmpl.Execute(&b, data); err != nil {
					t.Fatalf("ntfy (0.25): template %s: %v", k, err)
				}
				text = append(text, b.String())
			}
			return strings.Join(text, "\n"), strings.Contains(text[0], "[resolved]")
		}},
}

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %.2000s: %v", b, err)
	}
}

// fleetRouteRE is where the channels' routes go: before the warnings'
// route (which has no `continue`), so that every backup alert reaches them.
var fleetRouteRE = regexp.MustCompile(`(?m)^    - matchers: \['alertname=~"Backup\.\*\|RestoreTest\.\*"', 'severity="warning"'\]\n`)

// withChannels returns an amEdit adding chans to the shipped file, their
// secrets written into dir and their URLs pointing at srv.
func withChannels(t *testing.T, dir, srv string, chans []otherChannel) func(string) string {
	secret := func(name, value string) string {
		p := filepath.Join(dir, name)
		// As docs/deployment.md says to write them: a newline at the
		// end, except in Opsgenie's key file, which Alertmanager 0.25
		// sends as it is (deploy's channelConfig says why).
		if name != "genie" {
			value += "\n"
		}
		if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var routes, receivers strings.Builder
	for _, c := range chans {
		b, err := os.ReadFile(filepath.Join(deployDir(t), "alertmanager", "receivers", c.file))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, r := range c.replace(srv, secret) {
			if !strings.Contains(s, r[0]) {
				t.Fatalf("%s has no %q to replace", c.file, r[0])
			}
			s = strings.ReplaceAll(s, r[0], r[1])
		}
		name := regexp.MustCompile(`(?m)^- name: '([^']+)'`).FindStringSubmatch(s)
		if name == nil {
			t.Fatalf("%s names no receiver", c.file)
		}
		fmt.Fprintf(&routes, "    - matchers: ['alertname=~\"Backup.*|RestoreTest.*\"']\n      receiver: '%s'\n      group_by: ['alertname']\n      group_wait: 2m\n      continue: true\n", name[1])
		for line := range strings.Lines(s) {
			receivers.WriteString("  " + line)
		}
		receivers.WriteString("\n")
	}
	return func(am string) string {
		loc := fleetRouteRE.FindStringIndex(am)
		if loc == nil {
			t.Fatalf("the shipped alertmanager.yml has no warnings route (%s)", fleetRouteRE)
		}
		am = am[:loc[0]] + routes.String() + am[loc[0]:]
		if !strings.HasSuffix(am, "\n") {
			am += "\n"
		}
		// receivers: is the file's last section.
		return am + receivers.String()
	}
}

// TestInboxChannels: one host fails, then recovers, on the real stack with
// every receiver snippet added (Debian's Alertmanager 0.25 with those it
// supports, the current one with all): exactly one message per channel for
// the failure, saying what the Slack message says (what failed, why, how
// many hosts, the status page link, the alert's section of
// docs/alerts.md), and one resolution.
func TestInboxChannels(t *testing.T) {
	t.Parallel()
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) {
			t.Parallel()
			var chans []otherChannel
			for _, c := range otherChannels {
				if !c.current || am.Generation == parts.Current {
					chans = append(chans, c)
				}
			}
			stub := newChanStub(t)
			s := startStack(t, stackOptions{hosts: base, alertmanager: am.Path, amEdit: withChannels(t, t.TempDir(), stub.srv.URL, chans)})
			r := &runner{t: t, s: s, scenario: "channels: db fails, then recovers (" + am.String() + ")", hostRE: regexp.MustCompile(`\b(db|auth|web)\b`)}
			// each checks that every channel got exactly one post since
			// from, and what it says.
			each := func(from *int, resolved bool) func(_, _, _ []note) []string {
				return func(_, _, _ []note) []string {
					var out []string
					for _, c := range chans {
						posts := stub.byPrefix(c.prefix, *from)
						t.Logf("%s: %d post(s)", c.file, len(posts))
						if len(posts) != 1 {
							out = append(out, fmt.Sprintf("%s: %d posts, want 1", c.file, len(posts)))
						}
						for _, p := range posts {
							text, res := c.read(t, p)
							out = append(out, channelSays(c.file, text, res, resolved, s.statusLink("db"))...)
						}
					}
					for _, p := range stub.byPrefix("/", *from) {
						for _, k := range []string{chanPDKey, chanGenieKey, chanHookToken, chanNtfyToken, chanTeamsToken} {
							if bytes.Contains(p.body, []byte(k)) && !(k == chanPDKey && strings.HasPrefix(p.path, "/pagerduty")) {
								out = append(out, fmt.Sprintf("%s: a secret in the body", p.path))
							}
						}
					}
					return out
				}
			}
			everyChannel := func(from *int) func(sl, _, em []note) bool {
				return func(sl, _, em []note) bool {
					for _, c := range chans {
						if len(stub.byPrefix(c.prefix, *from)) == 0 {
							return false
						}
					}
					return len(sl) > 0 && len(em) > 0
				}
			}
			var from int
			w := firing("BackupFailed", 1).titled("db").saying("db", repoDown).matching(exitCodeRE(10)).linking(s.statusLink("db"))
			r.phase(phase{name: "db fails", slack: []want{w}, email: []want{w},
				do: func() {
					from = stub.len()
					s.bw("record", "--status=failed", "--host=db", "--exit-code=10", "--message="+repoDown)
				},
				until: everyChannel(&from), check: each(&from, false)})
			rw := resolved("BackupFailed").titled("db").saying("db")
			r.phase(phase{name: "db recovers", slack: []want{rw}, email: []want{rw},
				do: func() {
					from = stub.len()
					s.bw("record", "--status=success", "--host=db")
				},
				until: everyChannel(&from), check: each(&from, true)})
			printSummary(t)
		})
	}
}

// channelSays checks one channel's message for the Slack message's
// content: for a failure, what failed (the alert, the host, how many), why
// (the recorded error), the status page link and the alert's section of
// docs/alerts.md; for a resolution, that it resolves (and names the host
// where the channel has text).
func channelSays(name, text string, isResolved, wantResolved bool, statusLink string) []string {
	var out []string
	if isResolved != wantResolved {
		return []string{fmt.Sprintf("%s: resolved=%v, want %v:\n%s", name, isResolved, wantResolved, text)}
	}
	if strings.Contains(text, "<no value>") {
		out = append(out, fmt.Sprintf("%s: <no value> in\n%s", name, text))
	}
	if wantResolved {
		if name != "opsgenie.yml" && !regexp.MustCompile(`\bdb\b`).MatchString(text) {
			out = append(out, fmt.Sprintf("%s: the resolution does not name db:\n%s", name, text))
		}
		return out
	}
	for _, want := range []string{"BackupFailed", "db", "unable to open config file", statusLink, "docs/alerts.md#backupfailed"} {
		if !strings.Contains(text, want) {
			out = append(out, fmt.Sprintf("%s: no %q in\n%s", name, want, text))
		}
	}
	if !regexp.MustCompile(`\b1\b`).MatchString(text) {
		out = append(out, fmt.Sprintf("%s: does not say how many (1):\n%s", name, text))
	}
	return out
}
