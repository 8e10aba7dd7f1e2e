package deploy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
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
	"unicode"

	"go.yaml.in/yaml/v2"

	"github.com/golemtrust/backupwatch/internal/parts"
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
		{"backupwatch.tmpl", "alertmanager/backupwatch.tmpl"},
		{"alertmanager-templates", "alertmanager/backupwatch.tmpl"},
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

// TestPromtoolCheckRules checks the rules with Debian's promtool (2.42)
// and the current one (3.x, tools/bin from `make deps`).
func TestPromtoolCheckRules(t *testing.T) {
	for _, p := range parts.Both(t, "promtool") {
		t.Run(p.String(), func(t *testing.T) {
			out := runTool(t, ".", p.Path, "check", "rules", "prometheus/backup.yml")
			if !strings.Contains(out, "SUCCESS") {
				t.Errorf("promtool check rules: no SUCCESS in\n%s", out)
			}
		})
	}
}

// TestPromtoolTestRules runs the rule unit tests, on Debian's promtool and
// the current one: each alert fires and stays quiet at its boundaries, and
// the same tests hold on Prometheus 2 and 3. The files run side by side
// (-test.parallel at a time): each is one single-threaded promtool, the
// longest a minute of CPU, and one after another they made the package's
// longest test (8 minutes on an idle machine, 30 and more under load).
func TestPromtoolTestRules(t *testing.T) {
	files, err := filepath.Glob("prometheus/testdata/*_test.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests in prometheus/testdata: %v", err)
	}
	for _, p := range parts.Both(t, "promtool") {
		for _, f := range files {
			t.Run(p.String()+"/"+filepath.Base(f), func(t *testing.T) {
				t.Parallel()
				runTool(t, ".", p.Path, "test", "rules", f)
			})
		}
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
	Record        string            `yaml:"record"` // recording rules are skipped
	Alert         string            `yaml:"alert"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// readRules returns a rule file's alerting rules by alert name, in file
// order: one name may have several rules (with different labels).
func readRules(t *testing.T, p string) map[string][]rule {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(b, &rf); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	rules := map[string][]rule{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				continue
			}
			for _, o := range rules[r.Alert] {
				if mapsEqual(o.Labels, r.Labels) {
					t.Errorf("%s: alert %s defined twice with the same labels", p, r.Alert)
				}
			}
			rules[r.Alert] = append(rules[r.Alert], r)
		}
	}
	return rules
}

// runbookURL is where every alert's runbook_url points: a section of
// docs/alerts.md, one per alert name.
const runbookURL = "https://github.com/golemtrust/backupwatch/blob/main/docs/alerts.md#"

// runbookChange is how backup.yml's version of one of the runbook's alerts
// differs from the runbook's, and why. TestRunbookRules fails on any
// difference not listed here, and on a listed one that is not there.
type runbookChange struct {
	// expr is the shipped expression as a format of the runbook's, whose
	// selector S in "S > threshold" (or "S == 1") is read as
	// last_over_time(S[30m]): the threshold and comparison stay the
	// runbook's. %s is that comparison.
	expr, exprWhy string
	// sentences of the runbook's description that the shipped one no
	// longer has verbatim, and why. Every other sentence is still there.
	sentences map[string]string
	// descriptionWhy: why the description says more than the runbook's.
	descriptionWhy string
	// extra are further rules of the same name.
	extra []rule
	// extraWhy says why.
	extraWhy string
}

// ownersJoin joins a host's labels (team, owner, env) into its alerts, so
// that Alertmanager can route each team its own (backup_host:info in
// backup.yml); it changes no value and drops no alert.
const ownersJoin = " * on(host) group_left(team, owner, env) backup_host:info"

const ownersWhy = "; joined with the host's labels from the config file (team, owner, env) so that a route can send each team its own (issue 20)"

const escalationWhy = "; a failure pages once backup_failed:page says so: at once by default (the runbook's promise), after page_after's count of failures in a row or time without success where the config file sets it (issue 20), a warning until then (the extra rule)"

const lastOverTimeWhy = "a series that vanishes (exporter stopped, restarted or redeployed; a restart during a Vault outage) keeps its last value for 30 minutes, so nothing resolves or restarts its `for` for a reason that fixes nothing, while a real change still resolves at once (keep_firing_for would delay every real resolution)" +
	"; and the current value of any serve replica that is up wins, one alert per host whichever replica reports it (backupwatch_replica, set by the HA relabelling, is aggregated away), so one replica down for any length of time changes nothing the other reports"

// held is how the shipped rules read a selector S of the runbook's: the
// current value of any replica that is up, else for 30 minutes the last
// one, one series per host whichever replica it comes from (without the
// HA relabelling's backupwatch_replica label, last_over_time(S[30m])).
func held(s string) string {
	return fmt.Sprintf("(max without(backupwatch_replica) (%[1]s) or max without(backupwatch_replica) (last_over_time(%[1]s[30m])))", s)
}

var runbookChanges = map[string]runbookChange{
	"BackupNotRunIn24Hours": {
		expr:           "((%s) unless on(host, backup_job) (" + held("backup_record_present") + " == 0) unless on(host, backup_job) " + held("backup_schedule_info") + " unless on(host, backup_job) (" + held("backup_deadline_timestamp_seconds") + " > time()))" + ownersJoin,
		exprWhy:        lastOverTimeWhy + "; an expected host with no record at all is left to the day-one rule below; a host or job with a schedule of its own is judged by BackupOverdue instead (on(host, backup_job): a job is not its host); a record whose history starts with a failed or running run waits for its deadline, one day after its first result or start, so that its first failure is one page (BackupFailed), not two" + ownersWhy,
		descriptionWhy: `a host that never succeeded says so in words ("has never recorded a successful backup") instead of an age since 1970; the job, for a job; the last failure's exit code and error line; the status page link`,
		extra: []rule{{
			Alert:  "BackupNotRunIn24Hours",
			Expr:   "(" + held("backup_record_present") + " == 0)" + ownersJoin,
			For:    "24h",
			Labels: map[string]string{"severity": "critical", "reason": "never_reported"},
		}},
		extraWhy: "day one: an expected host without any record is a warning (BackupStatusUnknown) for its first 24 hours, then pages as never reported, instead of paging at once for every new host (the runbook's age since the epoch)",
	},
	"BackupFailed": {
		expr:    "((%s) and on(host, backup_job) backup_failed:page)" + ownersJoin,
		exprWhy: lastOverTimeWhy + ownersWhy + escalationWhy,
		sentences: map[string]string{
			"The most recent backup attempt for {{ $labels.host }} failed.": "the sentence goes on with why: the exit code and the last error line recorded by run/record --message",
		},
		descriptionWhy: "the status page link",
		extra: []rule{{
			Alert:  "BackupFailed",
			Expr:   "((" + held(`backup_status{status="failed"}`) + " == 1) unless on(host, backup_job) backup_failed:page)" + ownersJoin,
			For:    "0m",
			Labels: map[string]string{"severity": "warning"},
		}},
		extraWhy: "escalation (issue 20): a failure the config file's page_after does not yet page for is a warning, to chat only",
	},
	"BackupStatusUnknown": {
		expr:    "(%s)" + ownersJoin,
		exprWhy: lastOverTimeWhy + ownersWhy,
		sentences: map[string]string{
			"The backup script may never have run, or Vault KV may be unreachable.": "it says which: an expected host with no record yet (and that it pages after 24 hours), or a record without a recognised status; Vault being unreachable no longer makes hosts unknown (hosts never read export no status) and has its own alert, BackupStoreUnreachable",
		},
		descriptionWhy: "the status page link",
	},
	"RestoreTestOverdue": {
		expr:           "%s",
		exprWhy:        lastOverTimeWhy,
		descriptionWhy: `no restore test recorded yet says so in words ("No restore test has been recorded yet.") instead of an age since 1970, and how to record one`,
	},
}

// TestRunbookRules: the runbook's four alerts keep their names, what their
// expressions mean (selector, comparison, threshold), `for`, severities,
// labels and summaries; everything else that differs is listed, with why,
// in runbookChanges.
func TestRunbookRules(t *testing.T) {
	runbook := readRules(t, "prometheus/testdata/runbook_rules.yml")
	shipped := readRules(t, "prometheus/backup.yml")
	if len(runbook) != 4 || len(runbookChanges) != 4 {
		t.Fatalf("runbook rules: got %d, and %d listed changes; want 4 of each", len(runbook), len(runbookChanges))
	}
	cmp := regexp.MustCompile(`^(\S+?) (>|==) (\S+)$`)
	for name, want := range runbook {
		t.Run(name, func(t *testing.T) {
			change, ok := runbookChanges[name]
			if !ok {
				t.Fatalf("no entry in runbookChanges")
			}
			rules := shipped[name]
			if len(rules) != 1+len(change.extra) {
				t.Fatalf("%d rules named %s in backup.yml, want %d (the runbook's and %d listed: %s)", len(rules), name, 1+len(change.extra), len(change.extra), change.extraWhy)
			}
			got := rules[0]
			m := cmp.FindStringSubmatch(want[0].Expr)
			if m == nil {
				t.Fatalf("runbook expression %q is not `selector op threshold`", want[0].Expr)
			}
			wantExpr := fmt.Sprintf(change.expr, fmt.Sprintf("%s %s %s", held(m[1]), m[2], m[3]))
			if got.Expr != wantExpr {
				t.Errorf("expr = %q, want %q (the runbook's %q, changed because %s)", got.Expr, wantExpr, want[0].Expr, change.exprWhy)
			}
			if got.For != want[0].For || got.KeepFiringFor != "" {
				t.Errorf("for/keep_firing_for = %q/%q, want the runbook's %q/\"\"", got.For, got.KeepFiringFor, want[0].For)
			}
			if !mapsEqual(got.Labels, want[0].Labels) {
				t.Errorf("labels = %v, want the runbook's %v", got.Labels, want[0].Labels)
			}
			if got.Annotations["summary"] != want[0].Annotations["summary"] {
				t.Errorf("summary = %q, want the runbook's %q", got.Annotations["summary"], want[0].Annotations["summary"])
			}
			if u, w := got.Annotations["runbook_url"], runbookURL+strings.ToLower(name); u != w {
				t.Errorf("runbook_url = %q, want %q (added: the runbook has none)", u, w)
			}
			if len(got.Annotations) != len(want[0].Annotations)+1 {
				t.Errorf("annotations %v: want the runbook's %v and runbook_url, no other", keys(got.Annotations), keys(want[0].Annotations))
			}
			gotDesc := strings.Join(strings.Fields(got.Annotations["description"]), " ")
			for _, sentence := range sentences(want[0].Annotations["description"]) {
				why, changed := change.sentences[sentence]
				switch present := strings.Contains(gotDesc, sentence); {
				case !present && !changed:
					t.Errorf("description lost the runbook's sentence %q (list it in runbookChanges with why, or keep it)", sentence)
				case present && changed:
					t.Errorf("description still has %q, listed as changed (%s): drop it from runbookChanges", sentence, why)
				}
			}
			if change.descriptionWhy == "" && gotDesc != strings.Join(strings.Fields(want[0].Annotations["description"]), " ") {
				t.Errorf("description differs from the runbook's and runbookChanges gives no reason")
			}
			for i, x := range change.extra {
				r := rules[1+i]
				if r.Expr != x.Expr || r.For != x.For || !mapsEqual(r.Labels, x.Labels) {
					t.Errorf("extra rule %d: expr/for/labels = %q/%q/%v, want %q/%q/%v (%s)", i, r.Expr, r.For, r.Labels, x.Expr, x.For, x.Labels, change.extraWhy)
				}
				if r.Annotations["summary"] != want[0].Annotations["summary"] || r.Annotations["runbook_url"] != got.Annotations["runbook_url"] {
					t.Errorf("extra rule %d: summary/runbook_url = %q/%q, want the same as the runbook's rule", i, r.Annotations["summary"], r.Annotations["runbook_url"])
				}
			}
		})
	}
	// The evaluation interval: the runbook's 15m, ours 1m (backup.yml says why).
	var rf ruleFile
	b, _ := os.ReadFile("prometheus/backup.yml")
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		if g.Interval != "1m" {
			t.Errorf("group %s: interval %q, want 1m (the runbook's 15m makes `for` and thresholds late by up to 15 minutes)", g.Name, g.Interval)
		}
	}
}

// sentences splits a description into its sentences, whitespace folded.
func sentences(desc string) []string {
	var out []string
	for _, s := range strings.SplitAfter(strings.Join(strings.Fields(desc), " "), ". ") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestRunbookURLs: every alert links to its own section of docs/alerts.md,
// and that section says what it means, what a person receives and what to do.
func TestRunbookURLs(t *testing.T) {
	doc, err := os.ReadFile("../docs/alerts.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{} // GitHub anchor -> section text
	var anchor string
	for line := range strings.Lines(string(doc)) {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchor = githubAnchor(strings.TrimSpace(h))
			continue
		}
		if anchor != "" {
			sections[anchor] += line
		}
	}
	for name, rules := range readRules(t, "prometheus/backup.yml") {
		for _, r := range rules {
			want := runbookURL + strings.ToLower(name)
			if got := r.Annotations["runbook_url"]; got != want {
				t.Errorf("%s: runbook_url = %q, want %q", name, got, want)
			}
		}
		sec, ok := sections[strings.ToLower(name)]
		if !ok {
			t.Errorf("%s: docs/alerts.md has no section \"## %s\"", name, name)
			continue
		}
		for _, want := range []string{"What it means", "What you receive", "What to do"} {
			if !strings.Contains(sec, want) {
				t.Errorf("docs/alerts.md, %s: no %q", name, want)
			}
		}
	}
}

// githubAnchor is the id GitHub gives a heading.
func githubAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
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
		if !quiet[name] && name != "BackupwatchWatchdog" { // always firing is its job
			t.Errorf("%s: no promtool test where it must not fire", name)
		}
	}
}

// TestAmtoolCheckConfig checks the route, inhibit rules and templates with
// Debian's amtool (0.25) and the current one; the templates are loaded
// from the shipped file, as Alertmanager would.
func TestAmtoolCheckConfig(t *testing.T) {
	cfg, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	c := strings.ReplaceAll(string(cfg), "/etc/prometheus/alertmanager_templates/backupwatch.tmpl", tmpl)
	if c == string(cfg) {
		t.Fatal("alertmanager.yml does not name /etc/prometheus/alertmanager_templates/backupwatch.tmpl")
	}
	copyPath := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(copyPath, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts.Both(t, "amtool") {
		t.Run(p.String(), func(t *testing.T) {
			for _, f := range []string{"alertmanager/alertmanager.yml", copyPath} {
				out := runTool(t, ".", p.Path, "check-config", f)
				if !strings.Contains(out, "SUCCESS") || !strings.Contains(out, "1 templates") {
					t.Errorf("amtool check-config %s: no SUCCESS with 1 templates in\n%s", f, out)
				}
			}
		})
	}
}

// TestAlertRoutes: every alert in backup.yml, at each severity it has,
// reaches both the Slack receiver and the backup owner's email, as two
// receivers, when it pages, and Slack alone when it warns; an unrelated
// alert reaches neither.
func TestAlertRoutes(t *testing.T) {
	const both = "backup-slack,backup-owner-email"
	type route struct {
		labels []string
		want   string
	}
	var routes []route
	// The alerting path's own alerts go elsewhere (issue 18): the Watchdog
	// only to the dead man's switch, a failing channel only to the other.
	special := map[string][]route{
		"BackupwatchWatchdog": {{[]string{"alertname=BackupwatchWatchdog", "severity=none"}, "heartbeat"}},
		// A pause is for the inhibit rules, not for a person.
		"BackupPaused": {{[]string{"alertname=BackupPaused", "severity=none", "host=db"}, "default"}},
		// A storm's members too: the storm is told by BackupFailuresWidespread.
		"BackupFailuresWidespreadMember": {{[]string{"alertname=BackupFailuresWidespreadMember", "severity=none", "host=db"}, "default"}},
		"BackupwatchNotificationsFailing": {
			{[]string{"alertname=BackupwatchNotificationsFailing", "severity=critical", "integration=slack"}, "backup-owner-email"},
			{[]string{"alertname=BackupwatchNotificationsFailing", "severity=critical", "integration=email"}, "backup-slack"},
		},
	}
	for name, rules := range readRules(t, "prometheus/backup.yml") {
		if rs, ok := special[name]; ok {
			routes = append(routes, rs...)
			continue
		}
		for _, r := range rules {
			want := both
			if r.Labels["severity"] == "warning" {
				want = "backup-slack" // warnings to chat only (escalation, issue 20)
			}
			routes = append(routes, route{[]string{"alertname=" + name, "severity=" + r.Labels["severity"], "host=db"}, want})
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].labels[0] < routes[j].labels[0] })
	routes = append(routes,
		route{[]string{"alertname=NodeDown", "severity=critical"}, "default"},
		route{[]string{"alertname=Watchdog"}, "default"},
	)
	for _, r := range routes {
		t.Run(strings.Join(r.labels, ","), func(t *testing.T) {
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
	for _, svc := range []string{"backupwatch.service", "backupwatch-textfile.service", "backupwatch-deadman.service"} {
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
	// The runbook's query per host, aggregated so a host scraped through
	// two targets shows once (tools/dashgen says why).
	for _, want := range []string{`"expr": "max by (host) (backup_last_success_age_seconds{job=~\"$job\",instance=~\"$instance\",backup_job=\"\"})"`, `"value": 90000`, `"value": 172800`, `"unit": "dtdurations"`} {
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

// TestAlertTexts: the mixin conventions (node-mixin, kubernetes-mixin,
// mixtool's lint). Every alert has a summary, a description and a
// runbook_url; a summary is one plain sentence without templates, starting
// with a capital and ending with a period, since it titles a grouped
// message. The runbook's four keep their templated summaries, knowingly:
// they are the runbook's texts (TestRunbookRules).
func TestAlertTexts(t *testing.T) {
	runbook := readRules(t, "prometheus/testdata/runbook_rules.yml")
	for name, rules := range readRules(t, "prometheus/backup.yml") {
		for _, r := range rules {
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s", name, a)
				}
			}
			if _, ok := runbook[name]; ok {
				continue
			}
			s := r.Annotations["summary"]
			if strings.Contains(s, "{{") || !unicode.IsUpper([]rune(s + " ")[0]) || !strings.HasSuffix(s, ".") || strings.Count(s, ". ") > 0 {
				t.Errorf("%s: summary %q is not one plain sentence (no template, a capital first, a period last)", name, s)
			}
		}
	}
}
