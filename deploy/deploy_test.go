package deploy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"go.yaml.in/yaml/v2"
)

// tool returns the path of one of Debian's binaries the tests run, failing
// the test with how to get it when it is missing.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	t.Fatalf("%s not found: run `make deps` (installs Debian's prometheus, prometheus-alertmanager, logrotate, systemd)", name)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// runTool runs a tool and returns its combined output, failing the test
// with that output when it exits non-zero.
func runTool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestFilesListsEveryEmbeddedFile(t *testing.T) {
	var embedded []string
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			embedded = append(embedded, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	names := map[string]bool{}
	for _, f := range Files {
		listed = append(listed, f.Path)
		if names[f.Name] {
			t.Errorf("short name %q used twice", f.Name)
		}
		names[f.Name] = true
		if f.Install == "" || f.About == "" {
			t.Errorf("%s: Install or About is empty", f.Path)
		}
	}
	sort.Strings(embedded)
	sort.Strings(listed)
	if !slices.Equal(embedded, listed) {
		t.Errorf("embedded files and Files differ:\n embedded: %v\n listed:   %v", embedded, listed)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name     string
		wantPath string // "" means an error
	}{
		{"rules", "prometheus/backup.yml"},
		{"prometheus/backup.yml", "prometheus/backup.yml"},
		{"backup.yml", "prometheus/backup.yml"},
		{"alertmanager.yml", "alertmanager/alertmanager.yml"},
		{"restic-backup", "logrotate/restic-backup"},
		{"vault-writer-policy", "vault/backupwatch-writer.hcl"},
		{"backupwatch.yml", "grafana/provisioning/backupwatch.yml"},
		{"nope", ""},
		{"", ""},
		{"../go.mod", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Lookup(tt.name)
			if tt.wantPath == "" {
				if err == nil {
					t.Fatalf("Lookup(%q) = %q, want an error", tt.name, f.Path)
				}
				return
			}
			if err != nil || f.Path != tt.wantPath {
				t.Fatalf("Lookup(%q) = %q, %v; want %q", tt.name, f.Path, err, tt.wantPath)
			}
			got, err := Read(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(tt.wantPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Read(%q) differs from %s on disk", tt.name, tt.wantPath)
			}
		})
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	out := runTool(t, ".", "promtool", "check", "rules", "prometheus/backup.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules: no SUCCESS in\n%s", out)
	}
}

// TestPromtoolTestRules runs the rule unit tests: each alert fires and stays
// quiet at its boundaries.
func TestPromtoolTestRules(t *testing.T) {
	files, err := filepath.Glob("prometheus/testdata/*_test.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests in prometheus/testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			runTool(t, ".", "promtool", "test", "rules", f)
		})
	}
}

type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func readRules(t *testing.T, p string) map[string]rule {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	rules := map[string]rule{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if _, dup := rules[r.Alert]; dup {
				t.Errorf("%s: alert %s defined twice", p, r.Alert)
			}
			rules[r.Alert] = r
		}
	}
	return rules
}

// TestRunbookRulesUnchanged: the runbook's four alerts keep their names,
// expressions, severities, `for`, labels and annotation texts.
func TestRunbookRulesUnchanged(t *testing.T) {
	runbook := readRules(t, "prometheus/testdata/runbook_rules.yml")
	shipped := readRules(t, "prometheus/backup.yml")
	if len(runbook) != 4 {
		t.Fatalf("runbook rules: got %d, want 4", len(runbook))
	}
	for name, want := range runbook {
		got, ok := shipped[name]
		if !ok {
			t.Errorf("%s: missing from backup.yml", name)
			continue
		}
		if got.Expr != want.Expr || got.For != want.For {
			t.Errorf("%s: expr/for = %q/%q, want the runbook's %q/%q", name, got.Expr, got.For, want.Expr, want.For)
		}
		if !mapsEqual(got.Labels, want.Labels) {
			t.Errorf("%s: labels = %v, want the runbook's %v", name, got.Labels, want.Labels)
		}
		if !mapsEqual(got.Annotations, want.Annotations) {
			t.Errorf("%s: annotations = %q, want the runbook's %q", name, got.Annotations, want.Annotations)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestEveryAlertHasUnitTests: each alert in backup.yml has a promtool test
// where it fires and one where it must not.
func TestEveryAlertHasUnitTests(t *testing.T) {
	type ruleTests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	files, _ := filepath.Glob("prometheus/testdata/*_test.yml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rt ruleTests
		if err := yaml.Unmarshal(b, &rt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range rt.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	for name := range readRules(t, "prometheus/backup.yml") {
		if !fires[name] {
			t.Errorf("%s: no promtool test where it fires", name)
		}
		if !quiet[name] {
			t.Errorf("%s: no promtool test where it must not fire", name)
		}
	}
}

func TestAmtoolCheckConfig(t *testing.T) {
	out := runTool(t, ".", "amtool", "check-config", "alertmanager/alertmanager.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("amtool check-config: no SUCCESS in\n%s", out)
	}
}

// TestAlertRoutes: every alert in backup.yml, at each severity it has,
// reaches both the Slack receiver and the backup owner's email, as two
// receivers; an unrelated alert reaches neither.
func TestAlertRoutes(t *testing.T) {
	const both = "backup-slack,backup-owner-email"
	type route struct {
		labels []string
		want   string
	}
	var routes []route
	for name, r := range readRules(t, "prometheus/backup.yml") {
		routes = append(routes, route{[]string{"alertname=" + name, "severity=" + r.Labels["severity"], "host=db"}, both})
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].labels[0] < routes[j].labels[0] })
	routes = append(routes,
		route{[]string{"alertname=NodeDown", "severity=critical"}, "default"},
		route{[]string{"alertname=Watchdog"}, "default"},
	)
	for _, r := range routes {
		t.Run(r.labels[0], func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=alertmanager/alertmanager.yml"}, r.labels...)
			cmd := exec.Command(tool(t, "amtool"), args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("amtool %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
			}
			if got := strings.TrimSpace(stdout.String()); got != r.want {
				t.Errorf("amtool config routes test %v: got %q, want %q", r.labels, got, r.want)
			}
		})
	}
}

// TestAlertmanagerReceivers: Slack #infrastructure-alerts and the email are
// separate receivers, both send resolved notifications, the address is set
// in one place and the Slack webhook (a secret) is not in the file.
func TestAlertmanagerReceivers(t *testing.T) {
	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Receivers []struct {
			Name         string           `yaml:"name"`
			SlackConfigs []map[string]any `yaml:"slack_configs"`
			EmailConfigs []map[string]any `yaml:"email_configs"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var slack, email int
	for _, r := range cfg.Receivers {
		if len(r.SlackConfigs) > 0 && len(r.EmailConfigs) > 0 {
			t.Errorf("receiver %s has both Slack and email: keep them apart so one cannot hold up the other", r.Name)
		}
		for _, s := range r.SlackConfigs {
			slack++
			if s["channel"] != "#infrastructure-alerts" {
				t.Errorf("receiver %s: channel %v, want #infrastructure-alerts", r.Name, s["channel"])
			}
			if s["send_resolved"] != true {
				t.Errorf("receiver %s: Slack send_resolved is %v, want true", r.Name, s["send_resolved"])
			}
			if _, ok := s["api_url"]; ok {
				t.Errorf("receiver %s: the webhook URL is a secret: use api_url_file", r.Name)
			}
		}
		for _, e := range r.EmailConfigs {
			email++
			if e["send_resolved"] != true {
				t.Errorf("receiver %s: email send_resolved is %v, want true", r.Name, e["send_resolved"])
			}
		}
	}
	if slack != 1 || email != 1 {
		t.Errorf("Slack configs %d, email configs %d; want one of each", slack, email)
	}
	if n := len(regexp.MustCompile(`(?m)^\s*-?\s*to:`).FindAll(b, -1)); n != 1 {
		t.Errorf("the backup owner's address is set in %d places, want 1", n)
	}
}

// TestLogrotate: Debian's logrotate, forced, on a copy of the shipped
// policy whose only change is the log's path, rotates the log into a
// compressed file and creates a new one with mode 0640 owned by root.
func TestLogrotate(t *testing.T) {
	conf, err := os.ReadFile("logrotate/restic-backup")
	if err != nil {
		t.Fatal(err)
	}
	const runbook = "/var/log/restic-backup.log {\n    daily\n    rotate 30\n    compress\n    missingok\n    notifempty\n    create 0640 root root\n}\n"
	if string(conf) != runbook {
		t.Errorf("logrotate/restic-backup is not the runbook's policy:\n%s\nwant:\n%s", conf, runbook)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("`create 0640 root root` needs root: run the tests as root (make test does here)")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "restic-backup.log")
	copyConf := strings.Replace(string(conf), "/var/log/restic-backup.log", logPath, 1)
	if copyConf == string(conf) {
		t.Fatal("the policy does not name /var/log/restic-backup.log")
	}
	confPath := filepath.Join(dir, "restic-backup.conf")
	if err := os.WriteFile(confPath, []byte(copyConf), 0o644); err != nil {
		t.Fatal(err)
	}
	content := "2026-11-25T01:30:00+00:00 snapshot 1a2b3c4d saved\n"
	if err := os.WriteFile(logPath, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")

	runTool(t, dir, "logrotate", "-f", "-s", state, confPath)

	gz, err := os.Open(logPath + ".1.gz")
	if err != nil {
		t.Fatalf("compressed rotation: %v", err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatalf("%s.1.gz: %v", logPath, err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != content {
		t.Errorf("rotated content: got %q, want %q", got, content)
	}
	fi, err := os.Stat(logPath)
	if err != nil {
		t.Fatalf("new log file: %v", err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o640); got != want {
		t.Errorf("new log file mode: got %v, want %v", got, want)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("new log file owner: got %v, want root:root", fi.Sys())
	}
	if fi.Size() != 0 {
		t.Errorf("new log file size: got %d, want 0", fi.Size())
	}

	// notifempty: an empty log is left alone even when forced.
	runTool(t, dir, "logrotate", "-f", "-s", state, confPath)
	if _, err := os.Stat(logPath + ".2.gz"); err == nil {
		t.Errorf("an empty log was rotated despite notifempty")
	}
	// missingok: no log, no error.
	if err := os.Remove(logPath); err != nil {
		t.Fatal(err)
	}
	runTool(t, dir, "logrotate", "-f", "-s", state, confPath)
}

// TestSystemdUnits: systemd-analyze verify accepts every unit (with
// ExecStart pointed at a freshly built backupwatch, since verify checks the
// binary), and the exporter's units are hardened.
func TestSystemdUnits(t *testing.T) {
	sa := tool(t, "systemd-analyze")
	dir := t.TempDir()
	bin := filepath.Join(dir, "backupwatch")
	build := exec.Command("go", "build", "-o", bin, "../cmd/backupwatch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	units, err := filepath.Glob("systemd/*")
	if err != nil || len(units) == 0 {
		t.Fatalf("no units: %v", err)
	}
	var copies []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		c := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(c, bytes.ReplaceAll(b, []byte("/usr/local/bin/backupwatch"), []byte(bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}
	for _, c := range copies {
		t.Run(filepath.Base(c), func(t *testing.T) {
			cmd := exec.Command(sa, "verify", c)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			// verify exits 0 on settings it ignores; any output is a finding.
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("systemd-analyze verify %s: %v\n%s", filepath.Base(c), err, out)
			}
		})
	}
	// The command lines use backupwatch's real subcommands and flags.
	for _, u := range units {
		args := execStart(t, u)
		if len(args) == 0 || args[0] != "/usr/local/bin/backupwatch" {
			continue
		}
		t.Run("flags/"+filepath.Base(u), func(t *testing.T) {
			var sub string
			var flags []string
			for _, a := range args[1:] {
				if a == "--" {
					break
				}
				if name, ok := strings.CutPrefix(a, "--"); ok {
					name, _, _ = strings.Cut(name, "=")
					flags = append(flags, "--"+name)
				} else if sub == "" && !strings.HasPrefix(a, "$") {
					sub = a
				}
			}
			out, err := exec.Command(bin, "help", sub).CombinedOutput()
			if err != nil {
				t.Fatalf("backupwatch help %s: %v\n%s", sub, err, out)
			}
			for _, f := range flags {
				if !bytes.Contains(out, []byte(f+"=")) && !bytes.Contains(out, []byte(f+" ")) {
					t.Errorf("%s: backupwatch %s has no flag %s", filepath.Base(u), sub, f)
				}
			}
		})
	}
	for _, svc := range []string{"backupwatch.service", "backupwatch-textfile.service"} {
		t.Run("security/"+svc, func(t *testing.T) {
			// Exposure is 0.0 (locked down) to 10.0; 2.0 and below is "OK".
			cmd := exec.Command(sa, "security", "--offline=true", "--threshold=20", "--no-pager", filepath.Join(dir, svc))
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("systemd-analyze security %s: exposure above 2.0 (%v)\n%s", svc, err, out)
			}
			b, _ := os.ReadFile(filepath.Join("systemd", svc))
			for _, want := range []string{"User=backupwatch", "NoNewPrivileges=yes", "ProtectSystem=strict"} {
				if !bytes.Contains(b, []byte("\n"+want+"\n")) {
					t.Errorf("%s: no %s", svc, want)
				}
			}
		})
	}
}

// TestGrafanaFiles: the dashboard parses, carries the runbook's query and
// thresholds (tools/dashgen's test checks it against the SDK), and the
// provisioning file points where the dashboard is installed.
func TestGrafanaFiles(t *testing.T) {
	b, err := os.ReadFile("grafana/backupwatch.json")
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/backupwatch.json: %v", err)
	}
	for _, want := range []string{`"expr": "backup_last_success_age_seconds"`, `"value": 90000`, `"value": 172800`, `"unit": "dtdurations"`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("dashboard has no %s", want)
		}
	}
	p, err := os.ReadFile("grafana/provisioning/backupwatch.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(p, &prov); err != nil {
		t.Fatal(err)
	}
	dash, _ := Lookup("dashboard")
	if len(prov.Providers) != 1 || prov.Providers[0].Type != "file" || prov.Providers[0].Options.Path != filepath.Dir(dash.Install) {
		t.Errorf("provisioning: %+v, want one file provider at %s", prov, filepath.Dir(dash.Install))
	}
}

// execStart returns the words of a unit's ExecStart line, continuation
// lines joined.
func execStart(t *testing.T, unit string) []string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(b), "\\\n", " ")
	for line := range strings.Lines(joined) {
		if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}
