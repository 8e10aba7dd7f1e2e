package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/parts/amconfig"
)

// The other channels (issue 20, item 5): the receiver snippets in
// deploy/alertmanager/receivers/, added to the shipped alertmanager.yml as
// docs/deployment.md says (a route with `continue: true` before the
// fleet-wide ones, the snippet under `receivers:`), each posting to a
// stand-in of its service. deploy's TestChannels renders them from posted
// alerts; here they come from the real rules, exporter and records.

// chanSecrets are what the snippets read from files: each reaches its
// channel as its credential and no message.
var chanSecrets = amconfig.Secrets{
	PagerDuty: "R0UTINGKEYe2e0b2c3d4e5f60718293a4b",
	Opsgenie:  "0b3e6c2a-0000-4000-8000-e2e-genie",
	Webhook:   "hook-token-e2e-s3cret",
	Ntfy:      "tk_ntfye2esecret0123456789",
	Teams:     "sig=teams-e2e-signature",
}

// otherChannel is one receiver snippet: its file (amconfig.Receivers
// points it at the stand-in) and how a person would read a post: its
// text, and whether it resolves.
type otherChannel struct {
	file    string
	current bool // needs a newer Alertmanager than Debian's 0.25
	read    func(t *testing.T, p amconfig.Post) (text string, resolved bool)
}

var otherChannels = []otherChannel{
	{"pagerduty.yml", false,
		func(t *testing.T, p amconfig.Post) (string, bool) {
			var ev struct {
				RoutingKey  string `json:"routing_key"`
				EventAction string `json:"event_action"`
				Payload     struct {
					Summary string         `json:"summary"`
					Details map[string]any `json:"custom_details"`
				} `json:"payload"`
				Links []struct{ Href, Text string } `json:"links"`
			}
			decodeJSON(t, p.Body, &ev)
			if ev.RoutingKey != chanSecrets.PagerDuty {
				t.Errorf("pagerduty: routing_key %q, want the one in routing_key_file", ev.RoutingKey)
			}
			text := fmt.Sprintf("%s\n%v\n%v", ev.Payload.Summary, ev.Payload.Details["firing"], ev.Payload.Details["resolved"])
			for _, l := range ev.Links {
				text += "\n" + l.Text + ": " + l.Href
			}
			return text, ev.EventAction == "resolve"
		}},
	{"opsgenie.yml", false,
		func(t *testing.T, p amconfig.Post) (string, bool) {
			if p.Auth != "GenieKey "+chanSecrets.Opsgenie {
				t.Errorf("opsgenie: Authorization %q, want the key in api_key_file", p.Auth)
			}
			if strings.HasSuffix(p.Path, "/close") {
				return p.Path, true // Opsgenie closes the alert it opened: no text
			}
			var a struct {
				Message, Description string
				Details              map[string]string
			}
			decodeJSON(t, p.Body, &a)
			return a.Message + "\n" + a.Description + "\n" + a.Details["runbook_url"], false
		}},
	{"msteams.yml", true,
		func(t *testing.T, p amconfig.Post) (string, bool) {
			var m struct {
				Attachments []struct {
					Content struct {
						Body []struct{ Text string } `json:"body"`
					} `json:"content"`
				} `json:"attachments"`
			}
			decodeJSON(t, p.Body, &m)
			var text []string
			for _, a := range m.Attachments {
				for _, b := range a.Content.Body {
					text = append(text, b.Text)
				}
			}
			return strings.Join(text, "\n"), len(text) > 0 && strings.Contains(strings.ToUpper(text[0]), "RESOLVED")
		}},
	{"webhook.yml", false,
		func(t *testing.T, p amconfig.Post) (string, bool) {
			if p.Auth != "Bearer "+chanSecrets.Webhook {
				t.Errorf("webhook: Authorization %q, want the token in credentials_file", p.Auth)
			}
			var m struct {
				Status       string
				CommonLabels map[string]string `json:"commonLabels"`
				Alerts       []struct {
					Labels, Annotations map[string]string
				}
			}
			decodeJSON(t, p.Body, &m)
			text := fmt.Sprintf("[%s:%d] %s", strings.ToUpper(m.Status), len(m.Alerts), m.CommonLabels["alertname"])
			for _, a := range m.Alerts {
				text += fmt.Sprintf("\n%s: %s %s", a.Labels["host"], a.Annotations["description"], a.Annotations["runbook_url"])
			}
			return text, m.Status == "resolved"
		}},
	{"ntfy.yml", true,
		func(t *testing.T, p amconfig.Post) (string, bool) {
			if p.Auth != "Bearer "+chanSecrets.Ntfy {
				t.Errorf("ntfy: Authorization %q, want the token in credentials_file", p.Auth)
			}
			var m struct {
				Title, Message string
				Actions        []struct{ Label, URL string }
			}
			decodeJSON(t, p.Body, &m)
			text := m.Title + "\n" + m.Message
			for _, a := range m.Actions {
				text += "\n" + a.Label + ": " + a.URL
			}
			return text, strings.Contains(strings.ToUpper(m.Title), "RESOLVED")
		}},
	{"ntfy-0.25.yml", false,
		func(t *testing.T, p amconfig.Post) (string, bool) {
			if p.Auth != "Bearer "+chanSecrets.Ntfy {
				t.Errorf("ntfy (0.25): Authorization %q, want the token in credentials_file", p.Auth)
			}
			// ntfy renders its templates (Go's text/template) over the
			// JSON body: done here the same way, ntfy itself is not run.
			q, err := url.ParseQuery(p.RawQuery)
			if err != nil || q.Get("tpl") != "1" {
				t.Fatalf("ntfy (0.25): query %q: want tpl=1 (%v)", p.RawQuery, err)
			}
			var data any
			decodeJSON(t, p.Body, &data)
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
// secrets written into dir and their URLs pointing at srv
// (amconfig.Receivers).
func withChannels(t *testing.T, dir, srv string, chans []otherChannel) func(string) string {
	var files []string
	for _, c := range chans {
		files = append(files, c.file)
	}
	var routes, receivers strings.Builder
	for _, r := range amconfig.Receivers(t, filepath.Join(deployDir(t), "alertmanager", "receivers"), dir, srv, chanSecrets, files...) {
		fmt.Fprintf(&routes, "    - matchers: ['alertname=~\"Backup.*|RestoreTest.*\"']\n      receiver: '%s'\n      group_by: ['alertname']\n      group_wait: 2m\n      continue: true\n", r.Name)
		receivers.WriteString(r.YAML)
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
			stub := amconfig.NewStub(t)
			s := startStack(t, stackOptions{hosts: base, alertmanager: am.Path, amEdit: withChannels(t, t.TempDir(), stub.URL, chans)})
			r := &runner{t: t, s: s, scenario: "channels: db fails, then recovers (" + am.String() + ")", hostRE: regexp.MustCompile(`\b(db|auth|web)\b`)}
			// each checks that every channel got exactly one post since
			// from, and what it says.
			each := func(from *int, resolved bool) func(_, _, _ []note) []string {
				return func(_, _, _ []note) []string {
					var out []string
					for _, c := range chans {
						posts := stub.Posts(amconfig.Prefix(c.file), *from)
						t.Logf("%s: %d post(s)", c.file, len(posts))
						if len(posts) != 1 {
							out = append(out, fmt.Sprintf("%s: %d posts, want 1", c.file, len(posts)))
						}
						for _, p := range posts {
							text, res := c.read(t, p)
							out = append(out, channelSays(c.file, text, res, resolved, s.statusLink("db"))...)
						}
					}
					for _, p := range stub.Posts("/", *from) {
						for _, k := range chanSecrets.All() {
							if bytes.Contains(p.Body, []byte(k)) && !(k == chanSecrets.PagerDuty && strings.HasPrefix(p.Path, "/pagerduty")) {
								out = append(out, fmt.Sprintf("%s: a secret in the body", p.Path))
							}
						}
					}
					return out
				}
			}
			everyChannel := func(from *int) func(sl, _, em []note) bool {
				return func(sl, _, em []note) bool {
					for _, c := range chans {
						if len(stub.Posts(amconfig.Prefix(c.file), *from)) == 0 {
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
					from = stub.Len()
					s.bw("record", "--status=failed", "--host=db", "--exit-code=10", "--message="+repoDown)
				},
				until: everyChannel(&from), check: each(&from, false)})
			rw := resolved("BackupFailed").titled("db").saying("db")
			r.phase(phase{name: "db recovers", slack: []want{rw}, email: []want{rw},
				do: func() {
					from = stub.Len()
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
