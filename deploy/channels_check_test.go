package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// yamlOnly is an example file without its comment lines, as
// docs/deployment.md shows it.
func yamlOnly(s string) string {
	var out strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out.WriteString(line)
		}
	}
	return out.String()
}

// TestChannelDocs: docs/deployment.md shows each receiver example and the
// quiet-hours example as the shipped file has it (less its comments).
func TestChannelDocs(t *testing.T) {
	doc, err := os.ReadFile("../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{
		"receiver-pagerduty": "alertmanager/receivers/pagerduty.yml",
		"receiver-opsgenie":  "alertmanager/receivers/opsgenie.yml",
		"receiver-msteams":   "alertmanager/receivers/msteams.yml",
		"receiver-webhook":   "alertmanager/receivers/webhook.yml",
		"receiver-ntfy":      "alertmanager/receivers/ntfy.yml",
		"receiver-ntfy-0.25": "alertmanager/receivers/ntfy-0.25.yml",
		"quiet-hours":        "alertmanager/quiet-hours.yml",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(name) + " -->\n```yaml\n(.*?)```\n<!-- /" + regexp.QuoteMeta(name) + " -->").FindSubmatch(doc)
		if m == nil {
			t.Errorf("docs/deployment.md has no ```yaml block between <!-- %s --> and <!-- /%s -->", name, name)
			continue
		}
		if got, want := string(m[1]), yamlOnly(string(b)); got != want {
			t.Errorf("docs/deployment.md's %s differs from %s:\n got:\n%s\nwant:\n%s", name, file, got, want)
		}
		if f, err := Lookup(name); err != nil || f.Path != file {
			t.Errorf("Lookup(%q) = %v, %v; want %s", name, f.Path, err, file)
		}
	}
}

// TestChannelVersions: what docs/deployment.md says of each Alertmanager
// generation holds. Debian's 0.25 refuses the Teams receiver
// (msteamsv2_configs) and the ntfy one (a webhook payload) and takes the
// others; the current release takes all. Each is checked in a
// configuration of its own with the shipped templates.
func TestChannelVersions(t *testing.T) {
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	needsCurrent := map[string]string{"msteams.yml": "msteamsv2_configs", "ntfy.yml": "payload"}
	for _, amtool := range parts.Both(t, "amtool") {
		for _, c := range channels {
			t.Run(amtool.String()+"/"+c.file, func(t *testing.T) {
				b, err := os.ReadFile("alertmanager/receivers/" + c.file)
				if err != nil {
					t.Fatal(err)
				}
				var cfg strings.Builder
				cfg.WriteString("templates: ['" + tmpl + "']\nroute:\n  receiver: 'default'\nreceivers:\n  - name: 'default'\n")
				for line := range strings.Lines(string(b)) {
					cfg.WriteString("  " + line)
				}
				p := filepath.Join(t.TempDir(), "alertmanager.yml")
				if err := os.WriteFile(p, []byte(cfg.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(amtool.Path, "check-config", p).CombinedOutput()
				field, newer := needsCurrent[c.file]
				switch {
				case amtool.Generation == parts.Debian && newer:
					if err == nil || !strings.Contains(string(out), field) {
						t.Errorf("Debian's amtool took %s (docs say it needs a newer Alertmanager for %s): %v\n%s", c.file, field, err, out)
					}
				case err != nil || !strings.Contains(string(out), "SUCCESS"):
					t.Errorf("amtool check-config with %s: %v\n%s", c.file, err, out)
				}
			})
		}
	}
}

// TestChannelTemplates renders the other channels' texts through amtool
// (both generations) for 1, 12 and 500 hosts with hostile values: each is
// bounded, names at most ten hosts and says how many more, holds no
// control character, and the ntfy texts are JSON string literals whose
// message fits ntfy.sh's 4096 bytes.
func TestChannelTemplates(t *testing.T) {
	for _, amtool := range parts.Both(t, "amtool") {
		for _, n := range []int{1, 12, 500} {
			for _, status := range []string{"firing", "resolved"} {
				data := templateData(failedAlerts(n, status))
				for _, m := range []struct {
					define   string
					maxBytes int
				}{
					{"backupwatch.plain.title", 1024},
					{"backupwatch.plain.text", 15000},
					{"backupwatch.teams.text", 15000},
					{"backupwatch.runbook", 600},
					{"backupwatch.ntfy.title", 1024},
					{"backupwatch.ntfy.message", 8192},
				} {
					got := render(t, amtool.Path, data, m.define, "text")
					name := amtool.String() + " " + m.define + " " + status
					if len(got) > m.maxBytes || !utf8.ValidString(got) || strings.Contains(got, "<no value>") {
						t.Errorf("%s, %d hosts: %d bytes (at most %d), valid UTF-8 %v:\n%.2000s", name, n, len(got), m.maxBytes, utf8.ValidString(got), got)
					}
					if strings.ContainsAny(got, "\x00\x1b\u202e\u2028\ufeff") {
						t.Errorf("%s, %d hosts: a control or bidi character: %q", name, n, got)
					}
					if strings.HasSuffix(m.define, "title") && strings.ContainsAny(got, "\r\n") {
						t.Errorf("%s: more than one line: %q", name, got)
					}
					if strings.Contains(got, "](http://evil") {
						t.Errorf("%s: a hostile value makes a markdown link:\n%s", name, got)
					}
					if strings.HasPrefix(m.define, "backupwatch.ntfy.") {
						var s string
						if err := json.Unmarshal([]byte(got), &s); err != nil {
							t.Errorf("%s, %d hosts: not a JSON string literal (%v): %.500s", name, n, err, got)
						}
						if m.define == "backupwatch.ntfy.message" && len(s) > 4096 {
							t.Errorf("%s, %d hosts: %d bytes, ntfy.sh takes 4096", name, n, len(s))
						}
						got = s
					}
					if m.define == "backupwatch.runbook" && got != runbookURL+"backupfailed" {
						t.Errorf("%s = %q, want %sbackupfailed", name, got, runbookURL)
					}
					if len(hostRe.FindAllString(got, -1)) > 20 {
						t.Errorf("%s, %d hosts: names more than ten:\n%s", name, n, got)
					}
					if n == 500 && !strings.HasSuffix(m.define, "title") && m.define != "backupwatch.runbook" && !strings.Contains(got, "and 490 more") {
						t.Errorf("%s, 500 hosts: no \"and 490 more\":\n%.3000s", name, got)
					}
				}
			}
		}
	}
}
