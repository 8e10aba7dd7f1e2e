package docs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// The guide's snippets that the shell blocks of TestDocs cannot run (YAML
// to merge, cron lines, a table, a delivery test against a running
// Alertmanager) are each checked here as the prose says to use them.

// section returns the text of the deployment guide's section that starts
// with heading (a "## " line) up to the next "## " heading.
func section(t *testing.T, file, heading string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s: no section %q", file, heading)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// fenced returns the blocks of lang in text.
func fenced(t *testing.T, text, lang string) []string {
	t.Helper()
	bs, err := parseBlocks("section", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range bs {
		if b.lang == lang {
			out = append(out, b.text)
		}
	}
	return out
}

// buildBinary builds backupwatch into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "backupwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/backupwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// debianPrometheusYML is the file Debian's prometheus package installs.
const debianPrometheusYML = "/etc/prometheus/prometheus.yml"

// mergeInto adds snippet's entries under the same keys of base, as section
// 5 says: a list gets the snippet's items appended, a mapping the
// snippet's keys (merged the same way), a key base lacks is added.
func mergeInto(base, snippet yaml.MapSlice) yaml.MapSlice {
	for _, s := range snippet {
		i := slices.IndexFunc(base, func(b yaml.MapItem) bool { return b.Key == s.Key })
		if i < 0 {
			base = append(base, s)
			continue
		}
		switch sv := s.Value.(type) {
		case []any:
			bv, _ := base[i].Value.([]any) // nil when Debian's key holds only comments
			base[i].Value = append(bv, sv...)
		case yaml.MapSlice:
			bv, _ := base[i].Value.(yaml.MapSlice)
			base[i].Value = mergeInto(bv, sv)
		default:
			base[i].Value = s.Value
		}
	}
	return base
}

// TestPrometheusSnippetMerges merges section 5's snippet into Debian's
// shipped prometheus.yml as the prose says and checks the result with
// promtool, Debian's and the current one.
func TestPrometheusSnippetMerges(t *testing.T) {
	debian, err := os.ReadFile(debianPrometheusYML)
	if err != nil {
		t.Fatalf("%v: Debian's prometheus package installs it: run `make deps` (apt-get install prometheus)", err)
	}
	sec := section(t, "deployment.md", "## 5. Prometheus")
	snippets := fenced(t, sec, "yaml")
	if len(snippets) != 1 {
		t.Fatalf("section 5 has %d yaml blocks, want the one to merge", len(snippets))
	}
	var base, snippet yaml.MapSlice
	if err := yaml.Unmarshal(debian, &base); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(snippets[0]), &snippet); err != nil {
		t.Fatal(err)
	}
	merged, err := yaml.Marshal(mergeInto(base, snippet))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(merged, []byte("job_name: backupwatch")) {
		t.Errorf("the merged file has no job backupwatch, which the rules name:\n%s", merged)
	}
	// The rules where the guide puts them, in a directory of the test's.
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rules, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../deploy/prometheus/backup.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rules, "backup.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(merged, []byte("/etc/prometheus/rules/")) {
		t.Errorf("the merged file does not load the rules of /etc/prometheus/rules/:\n%s", merged)
	}
	merged = bytes.ReplaceAll(merged, []byte("/etc/prometheus/rules/"), []byte(rules+"/"))
	f := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(f, merged, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts.Both(t, "promtool") {
		out, err := exec.Command(p.Path, "check", "config", f).CombinedOutput()
		if err != nil {
			t.Errorf("%s check config on Debian's prometheus.yml with section 5 merged: %v\n%s\n--- merged:\n%s", p, err, out, merged)
		} else if !bytes.Contains(out, []byte("backup.yml")) {
			t.Errorf("%s check config did not check the rules:\n%s", p, out)
		}
	}
}

// alertRE finds an alert's name in the first cell of a table row.
var alertRE = regexp.MustCompile("^\\| `([A-Za-z0-9]+)`")

// TestAlertTable checks that section 5's table lists every alert of the
// shipped rules, and no other.
func TestAlertTable(t *testing.T) {
	b, err := os.ReadFile("../deploy/prometheus/backup.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `yaml:"alert"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	shipped := map[string]bool{}
	severities := map[string]bool{} // alert and severity
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				shipped[r.Alert] = true
				severities[r.Alert+" "+r.Labels["severity"]] = true
			}
		}
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(section(t, "deployment.md", "## 5. Prometheus"), "\n") {
		if m := alertRE.FindStringSubmatch(line); m != nil {
			listed[m[1]] = true
			cells := strings.Split(strings.Trim(line, "| "), "|")
			if sev := strings.TrimSpace(cells[len(cells)-1]); shipped[m[1]] && !severities[m[1]+" "+sev] {
				t.Errorf("deployment.md section 5's table gives %s the severity %q, which backup.yml does not", m[1], sev)
			}
		}
	}
	for a := range shipped {
		if !listed[a] {
			t.Errorf("deployment.md section 5's table does not list %s (deploy/prometheus/backup.yml has it)", a)
		}
	}
	for a := range listed {
		if !shipped[a] {
			t.Errorf("deployment.md section 5's table lists %s, which deploy/prometheus/backup.yml does not have", a)
		}
	}
	if len(shipped) == 0 {
		t.Fatal("no alerts in backup.yml")
	}
}

// resticEnv is what the guide puts in /etc/restic/env: section 3's file
// and the variables its prose adds (serve's address, and for a serve behind
// basic auth or a private CA, their files).
var resticEnv = []string{
	"RESTIC_REPOSITORY", "RESTIC_PASSWORD_FILE", "VAULT_ADDR",
	"BACKUPWATCH_EXPORTER_URL", "BACKUPWATCH_EXPORTER_BASIC_AUTH_FILE", "BACKUPWATCH_EXPORTER_CA_FILE",
}

// TestCronLines runs the command of each cron line of the guide as cron
// does (sh, an empty environment) with /etc/restic/env holding every
// variable the guide sets, and a backupwatch at the package's path that
// writes down what it was given.
func TestCronLines(t *testing.T) {
	src, err := os.ReadFile("deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, b := range fenced(t, string(src), "cron") {
		for _, l := range strings.Split(strings.TrimSpace(b), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		t.Fatal("no cron lines in deployment.md")
	}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 7 || f[5] != "root" {
			t.Errorf("%q: not a /etc/cron.d line (five time fields, root, command)", line)
			continue
		}
		// The command: the line after its six fields.
		cmdText := line
		for range 6 {
			cmdText = strings.TrimLeft(cmdText, " \t")
			cmdText = cmdText[strings.IndexAny(cmdText, " \t"):]
		}
		if !strings.Contains(cmdText, " /usr/bin/backupwatch ") {
			t.Errorf("%q: does not run /usr/bin/backupwatch, where the package installs it", line)
			continue
		}
		dir := t.TempDir()
		env := filepath.Join(dir, "env")
		var envText strings.Builder
		for _, v := range resticEnv {
			fmt.Fprintf(&envText, "%s=value-of-%s\n", v, v)
		}
		if err := os.WriteFile(env, []byte(envText.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		got := filepath.Join(dir, "got")
		stub := filepath.Join(dir, "backupwatch")
		if err := os.WriteFile(stub, []byte("#!/bin/sh\nenv > "+got+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		run := strings.ReplaceAll(cmdText, "/etc/restic/env", env)
		run = strings.ReplaceAll(run, "/usr/bin/backupwatch", stub)
		cmd := exec.Command("/bin/sh", "-c", run)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "SHELL=/bin/sh", "HOME=" + dir}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%q: %v\n%s", line, err, out)
			continue
		}
		b, err := os.ReadFile(got)
		if err != nil {
			t.Errorf("%q: backupwatch did not run: %v", line, err)
			continue
		}
		for _, v := range resticEnv {
			if !strings.Contains(string(b), "\n"+v+"=value-of-"+v+"\n") && !strings.HasPrefix(string(b), v+"=value-of-"+v+"\n") {
				t.Errorf("%q: backupwatch does not get %s from /etc/restic/env", line, v)
			}
		}
	}
}

// TestExampleConfigChecks runs `backupwatch check` on the shipped example
// config file.
func TestExampleConfigChecks(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin, "--store.dir", t.TempDir(), "check", "--config.file=../deploy/examples/config.yml")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("backupwatch check --config.file=deploy/examples/config.yml: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), ": 40 hosts,") {
		t.Errorf("the example is not for 40 hosts:\n%s", out)
	}
}

// TestConfigurationReference checks that docs/configuration.md names
// every flag of every command.
func TestConfigurationReference(t *testing.T) {
	bin := buildBinary(t)
	ref, err := os.ReadFile("configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	flagRE := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--(?:\[no-\])?([a-z][a-z0-9.-]*)`)
	for _, c := range [][]string{nil, {"record"}, {"run"}, {"restore-test", "record"}, {"restore-test", "run"},
		{"status"}, {"forget"}, {"flush"}, {"serve"}, {"textfile"}, {"check"}, {"repo-check"}, {"pause"}, {"resume"}} {
		out, _ := exec.Command(bin, append(c, "--help")...).CombinedOutput()
		ms := flagRE.FindAllStringSubmatch(string(out), -1)
		if len(ms) == 0 {
			t.Fatalf("backupwatch %s --help lists no flags:\n%s", strings.Join(c, " "), out)
		}
		for _, m := range ms {
			if strings.HasPrefix(m[1], "help") || m[1] == "version" {
				continue
			}
			if !bytes.Contains(ref, []byte("`--"+m[1])) {
				t.Errorf("configuration.md does not describe --%s (backupwatch %s --help)", m[1], strings.Join(c, " "))
			}
		}
	}
}

// oldREADMEHeadings are the second-level headings of the README before it
// became a front door (772+ lines); their text moved to docs/.
var oldREADMEHeadings = []string{
	"Two commands", "Recording backups", "Jobs and schedules", "Where records live", "The exporter",
	"Running the backup: `backupwatch run`", "Alerting and deployment", "Performance", "Development",
}

// TestMovedHeadings checks that nothing the README said was lost when it
// was split: every old heading is a heading of a page.
func TestMovedHeadings(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, h := range oldREADMEHeadings {
		if !regexp.MustCompile(`(?m)^##+ ` + regexp.QuoteMeta(h) + `$`).MatchString(all.String()) {
			t.Errorf("no page has the README's old section %q", h)
		}
	}
}

// TestDeliveryTest sends section 6's delivery test to a real Alertmanager
// with the current amtool (which warns about matchers it must guess at)
// and renders what arrives with the shipped templates: no line may be a
// host with nothing after it.
func TestDeliveryTest(t *testing.T) {
	sec := section(t, "deployment.md", "## 6. Alertmanager")
	var block string
	for _, b := range fenced(t, sec, "sh") {
		if strings.Contains(b, "alert add") {
			block = b
		}
	}
	if block == "" {
		t.Fatal("section 6 has no `amtool ... alert add` block")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(conf, []byte("route:\n  receiver: none\nreceivers:\n  - name: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var amLog bytes.Buffer
	am := exec.Command(parts.CurrentPath(t, "alertmanager"), "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	am.Stdout, am.Stderr = &amLog, &amLog
	if err := am.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { am.Process.Kill(); am.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready in 30s:\n%s", amLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	amtool := parts.CurrentPath(t, "amtool")
	script := strings.ReplaceAll(block, "http://localhost:9093", "http://"+addr)
	cmd := exec.Command("bash", "-e", "-c", script)
	cmd.Env = []string{"PATH=" + filepath.Dir(amtool) + ":/usr/bin:/bin", "HOME=" + dir}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("section 6's delivery test: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte("WARN")) || bytes.Contains(out, []byte("incompatible")) {
		t.Errorf("amtool warns about section 6's delivery test:\n%s", out)
	}
	resp, err := http.Get("http://" + addr + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    string            `json:"startsAt"`
		EndsAt      string            `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 {
		t.Fatalf("Alertmanager holds %d alerts, want the delivery test's one", len(alerts))
	}
	a := alerts[0]
	data := map[string]any{
		"receiver": "backup-slack", "status": "firing",
		"alerts": []map[string]any{{"status": "firing", "labels": a.Labels, "annotations": a.Annotations,
			"startsAt": a.StartsAt, "endsAt": a.EndsAt, "fingerprint": a.Fingerprint}},
		"groupLabels": map[string]string{"alertname": a.Labels["alertname"]}, "commonLabels": a.Labels,
		"commonAnnotations": a.Annotations, "externalURL": "http://alertmanager:9093",
	}
	f := filepath.Join(dir, "data.json")
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, define := range []string{"backupwatch.slack.text", "backupwatch.email.text"} {
		r := exec.Command(amtool, "template", "render", "--template.glob=../deploy/alertmanager/backupwatch.tmpl",
			"--template.type=text", "--template.data="+f, `--template.text={{ template "`+define+`" . }}`)
		out, err := r.CombinedOutput()
		if err != nil {
			t.Fatalf("amtool template render %s: %v\n%s", define, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			// A list item (Slack's "• ", email's "- ") that names a host and says nothing.
			s := strings.TrimSpace(line)
			if (strings.HasPrefix(s, "•") || strings.HasPrefix(s, "- ")) && strings.HasSuffix(s, ":") {
				t.Errorf("%s renders the delivery test with a dangling line %q:\n%s", define, line, out)
			}
		}
	}
}

// TestUnitExamplesQuoted checks the settings the units' comments show as
// examples: /etc/default/backupwatch is sourced by shells too, where an
// unquoted value with a space runs its second word as a command.
func TestUnitExamplesQuoted(t *testing.T) {
	units, err := filepath.Glob("../deploy/systemd/*.service")
	if err != nil || len(units) == 0 {
		t.Fatalf("no units in deploy/systemd: %v", err)
	}
	exampleRE := regexp.MustCompile(`^#\s+([A-Z][A-Z0-9_]*)=(.*)$`)
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			m := exampleRE.FindStringSubmatch(line)
			if m == nil || !strings.ContainsAny(m[2], " \t") {
				continue
			}
			if v := m[2]; len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
				t.Errorf("%s: the example %q holds a space unquoted: a shell sourcing it would run a command", filepath.Base(u), line)
			}
		}
	}
}

var (
	fenceRE   = regexp.MustCompile("(?ms)^```.*?^```")
	linkRE    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingRE = regexp.MustCompile(`(?m)^#+ (.+)$`)
	notSlugRE = regexp.MustCompile(`[^\p{L}\p{N} _-]`)
)

// anchors are the ids GitHub gives a Markdown file's headings: lower case,
// punctuation dropped, spaces as hyphens, a repeat suffixed -1, -2...
func anchors(src string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, m := range headingRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(src, ""), -1) {
		a := strings.ReplaceAll(notSlugRE.ReplaceAllString(strings.ToLower(strings.TrimSpace(m[1])), ""), " ", "-")
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// TestLinks checks that every relative link of the README and docs/ names
// a file that exists and, in a Markdown file, a heading it has: the
// README's text moved between pages, and a link that moved with it must
// still arrive.
func TestLinks(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, "../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkRE.FindAllStringSubmatch(fenceRE.ReplaceAllString(string(b), ""), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			p, anchor, _ := strings.Cut(link, "#")
			target := f
			if p != "" {
				target = filepath.Join(filepath.Dir(f), p)
			}
			tb, err := os.ReadFile(target)
			if err != nil {
				if _, serr := os.Stat(target); serr == nil {
					continue // a directory
				}
				t.Errorf("%s: link %s: %v", f, link, err)
				continue
			}
			if anchor != "" && strings.HasSuffix(target, ".md") && !anchors(string(tb))[anchor] {
				t.Errorf("%s: link %s: %s has no heading #%s", f, link, target, anchor)
			}
		}
	}
}
