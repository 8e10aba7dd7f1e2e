// Package amconfig assembles, for tests, Alertmanager configurations with
// the receiver snippets of deploy/alertmanager/receivers/ as
// docs/deployment.md says to add them, each pointed at a stand-in of its
// service (Stub) and reading its secrets from files the test writes.
package amconfig

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Secrets are the credentials the snippets read from files. Each test
// has its own, so that one found in a message is known for what it is.
type Secrets struct {
	PagerDuty, Opsgenie, Webhook, Ntfy, Teams string
}

// All lists the secrets, for checking that none reaches a message.
func (s Secrets) All() []string {
	return []string{s.PagerDuty, s.Opsgenie, s.Webhook, s.Ntfy, s.Teams}
}

// SecretFile writes value to dir/name, mode 0600, and returns its path.
// As docs/deployment.md says to write them, it ends with a newline, but
// for Opsgenie's key file ("genie"): Alertmanager 0.25 sends that one as
// it is, the newline included (Go's HTTP client refuses the header, and
// every notification fails); the current release trims it.
func SecretFile(t testing.TB, dir, name, value string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if name != "genie" {
		value += "\n"
	}
	if err := os.WriteFile(p, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Receiver is one snippet made ready for a configuration.
type Receiver struct {
	Name string // the receiver's, for a route
	YAML string // its lines, indented to stand under `receivers:`
}

// Receivers reads the snippets files from dir (deploy's
// alertmanager/receivers), each changed only where it names a secret file
// (now one in secretDir, holding sec's) or its service's URL (now at srv,
// under the path Prefix gives).
func Receivers(t testing.TB, dir, secretDir, srv string, sec Secrets, files ...string) []Receiver {
	t.Helper()
	secret := func(name, value string) string { return SecretFile(t, secretDir, name, value) }
	var out []Receiver
	for _, file := range files {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		edits, ok := snippetEdits(file, srv, sec, secret)
		if !ok {
			t.Fatalf("amconfig: no edits known for the snippet %s: add them to snippetEdits", file)
		}
		for _, e := range edits {
			if !strings.Contains(s, e[0]) {
				t.Fatalf("%s has no %q to replace", file, e[0])
			}
			s = strings.ReplaceAll(s, e[0], e[1])
		}
		name := nameRE.FindStringSubmatch(s)
		if name == nil {
			t.Fatalf("%s names no receiver", file)
		}
		var y strings.Builder
		for line := range strings.Lines(s) {
			y.WriteString("  " + line)
		}
		if !strings.HasSuffix(s, "\n") {
			y.WriteString("\n")
		}
		out = append(out, Receiver{Name: name[1], YAML: y.String()})
	}
	return out
}

var nameRE = regexp.MustCompile(`(?m)^- name: '([^']+)'`)

// Prefix is the path under which the stand-in receives the snippet
// file's posts.
func Prefix(file string) string {
	return map[string]string{
		"pagerduty.yml": "/pagerduty",
		"opsgenie.yml":  "/opsgenie",
		"msteams.yml":   "/teams",
		"webhook.yml":   "/webhook",
		"ntfy.yml":      "/ntfy/",
		"ntfy-0.25.yml": "/ntfy25/",
	}[file]
}

// snippetEdits are the replacements in the snippet file: its secret
// files and its service's URL. ntfy's two snippets share a receiver name
// (one for each Alertmanager): the 0.25 one is renamed so that both can
// stand in one configuration.
func snippetEdits(file, srv string, sec Secrets, secret func(name, value string) string) ([][2]string, bool) {
	switch file {
	case "pagerduty.yml":
		return [][2]string{{"routing_key_file: '/etc/prometheus/alertmanager-pagerduty-routing-key'",
			"routing_key_file: '" + secret("pd", sec.PagerDuty) + "'\n      url: '" + srv + Prefix(file) + "/v2/enqueue'"}}, true
	case "opsgenie.yml":
		return [][2]string{{"api_key_file: '/etc/prometheus/alertmanager-opsgenie-api-key'",
			"api_key_file: '" + secret("genie", sec.Opsgenie) + "'\n      api_url: '" + srv + Prefix(file) + "/'"}}, true
	case "msteams.yml":
		return [][2]string{{"/etc/prometheus/alertmanager-teams-webhook-url", secret("teams", srv+Prefix(file)+"/workflow?"+sec.Teams)}}, true
	case "webhook.yml":
		return [][2]string{{"https://hooks.example.org/backupwatch", srv + Prefix(file)},
			{"/etc/prometheus/alertmanager-webhook-token", secret("hook", sec.Webhook)}}, true
	case "ntfy.yml":
		return [][2]string{{"https://ntfy.sh/", srv + Prefix(file)},
			{"/etc/prometheus/alertmanager-ntfy-token", secret("ntfy", sec.Ntfy)}}, true
	case "ntfy-0.25.yml":
		return [][2]string{{"https://ntfy.sh/backups?", srv + Prefix(file) + "backups?"},
			{"/etc/prometheus/alertmanager-ntfy-token", secret("ntfy", sec.Ntfy)},
			{"name: 'backup-ntfy'", "name: 'backup-ntfy-025'"}}, true
	}
	return nil, false
}
