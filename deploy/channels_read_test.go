package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"text/template"
)

// How TestChannels reads each channel's post: the service's own format,
// and the credential it carries.

// Secrets the snippets read from files; each must reach the channel as its
// credential and nowhere else.
const (
	pdKey      = "R0UTINGKEYfa1b2c3d4e5f60718293a4b"
	genieKey   = "0b3e6c2a-0000-4000-8000-genie-secret"
	hookToken  = "hook-token-s3cret"
	ntfyToken  = "tk_ntfysecret0123456789"
	teamsToken = "sig=teams-secret-signature"
)

var channels = []channel{
	{"pagerduty.yml", "/pagerduty", false, func(t *testing.T, p channelPost) (string, string) {
		var ev struct {
			RoutingKey  string `json:"routing_key"`
			EventAction string `json:"event_action"`
			Payload     struct {
				Summary  string         `json:"summary"`
				Severity string         `json:"severity"`
				Details  map[string]any `json:"custom_details"`
			} `json:"payload"`
			Links []struct{ Href, Text string } `json:"links"`
		}
		decode(t, p.Body, &ev)
		if ev.RoutingKey != pdKey {
			t.Errorf("pagerduty: routing_key %q, want the one in routing_key_file", ev.RoutingKey)
		}
		body := fmt.Sprintf("%s\n%s\n%v\n%v", ev.EventAction, ev.Payload.Severity, ev.Payload.Details["firing"], ev.Payload.Details["resolved"])
		for _, l := range ev.Links {
			body += "\n" + l.Text + ": " + l.Href
		}
		return ev.Payload.Summary, body
	}},
	{"opsgenie.yml", "/opsgenie", false, func(t *testing.T, p channelPost) (string, string) {
		if p.Auth != "GenieKey "+genieKey {
			t.Errorf("opsgenie: Authorization %q, want the key in api_key_file", p.Auth)
		}
		if strings.HasSuffix(p.Path, "/close") {
			var c struct{ Source, Note string }
			decode(t, p.Body, &c)
			return "[RESOLVED] close", p.Path
		}
		var a struct {
			Message, Description, Priority string
			Details                        map[string]string
		}
		decode(t, p.Body, &a)
		return a.Message, a.Priority + "\n" + a.Description + "\n" + a.Details["runbook_url"]
	}},
	{"msteams.yml", "/teams", true, func(t *testing.T, p channelPost) (string, string) {
		if !strings.Contains(p.RawQuery, teamsToken) {
			t.Errorf("teams: posted to ?%s, want the URL in webhook_url_file", p.RawQuery)
		}
		var m struct {
			Attachments []struct {
				Content struct {
					Body []struct{ Text string } `json:"body"`
				} `json:"content"`
			} `json:"attachments"`
		}
		decode(t, p.Body, &m)
		if len(m.Attachments) != 1 || len(m.Attachments[0].Content.Body) != 2 {
			t.Fatalf("teams: want one card with a title and a text: %s", p.Body)
		}
		b := m.Attachments[0].Content.Body
		return b[0].Text, b[1].Text
	}},
	{"webhook.yml", "/webhook", false, func(t *testing.T, p channelPost) (string, string) {
		if p.Auth != "Bearer "+hookToken {
			t.Errorf("webhook: Authorization %q, want the token in credentials_file", p.Auth)
		}
		var m struct {
			Status          string
			CommonLabels    map[string]string `json:"commonLabels"`
			TruncatedAlerts int               `json:"truncatedAlerts"`
			Alerts          []amAlert
		}
		decode(t, p.Body, &m)
		title := fmt.Sprintf("[%s:%d] %s", strings.ToUpper(m.Status), len(m.Alerts)+m.TruncatedAlerts, m.CommonLabels["alertname"])
		var body strings.Builder
		for _, a := range m.Alerts {
			fmt.Fprintf(&body, "%s %s: %s %s\n", a.Status, a.Labels["host"], a.Annotations["description"], a.Annotations["runbook_url"])
		}
		return title, body.String()
	}},
	{"ntfy.yml", "/ntfy/", true, func(t *testing.T, p channelPost) (string, string) {
		if p.Auth != "Bearer "+ntfyToken {
			t.Errorf("ntfy: Authorization %q, want the token in credentials_file", p.Auth)
		}
		// ntfy's JSON publish format: strings stay strings, priority a number.
		var m struct {
			Topic, Title, Message string
			Priority              int
			Actions               []struct{ Action, Label, URL string }
		}
		decode(t, p.Body, &m)
		if m.Topic != "backups" || m.Priority == 0 || len(m.Actions) != 1 || m.Actions[0].Action != "view" {
			t.Errorf("ntfy: want topic backups, a priority and one view action: %s", p.Body)
		}
		if len(m.Message) > 4096 {
			t.Errorf("ntfy: a message of %d bytes; ntfy.sh takes 4096", len(m.Message))
		}
		body := m.Message
		for _, a := range m.Actions {
			body += "\n" + a.Label + ": " + a.URL
		}
		return m.Title, body
	}},
	{"ntfy-0.25.yml", "/ntfy25/", false, func(t *testing.T, p channelPost) (string, string) {
		if p.Auth != "Bearer "+ntfyToken {
			t.Errorf("ntfy (0.25): Authorization %q, want the token in credentials_file", p.Auth)
		}
		// ntfy renders its templates (Go's text/template) over the JSON
		// body: done here the same way, ntfy itself is not run.
		q, err := url.ParseQuery(p.RawQuery)
		if err != nil || q.Get("tpl") != "1" {
			t.Fatalf("ntfy (0.25): query %q: want tpl=1 (%v)", p.RawQuery, err)
		}
		var data any
		decode(t, p.Body, &data)
		render := func(name, text string) string {
			tmpl, err := template.New(name).Parse(text)
			if err != nil {
				t.Fatalf("ntfy (0.25): template %s: %v", name, err)
			}
			var b bytes.Buffer
			if err := tmpl.Execute(&b, data); err != nil {
				t.Fatalf("ntfy (0.25): template %s: %v", name, err)
			}
			return b.String()
		}
		return render("t", q.Get("t")), render("m", q.Get("m"))
	}},
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
