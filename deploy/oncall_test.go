package deploy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// teamConfig is the shipped alertmanager.yml with the team routes
// example uncommented.
func teamConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Uncomment(string(b), "team routes example")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTeamRoutes: the example routes, uncommented, are a valid
// configuration on both generations of amtool and send a team's alerts
// to that team only (a storm of that team's hosts alone too), a host
// without a team (or of another team) and a storm across teams to the
// fleet-wide receivers, and a pause to nobody.
func TestTeamRoutes(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "alertmanager.yml")
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(teamConfig(t), "/etc/prometheus/alertmanager_templates/backupwatch.tmpl", tmpl)), 0o644); err != nil {
		t.Fatal(err)
	}
	const both = "backup-slack,backup-owner-email"
	for _, p := range parts.Both(t, "amtool") {
		t.Run(p.String(), func(t *testing.T) {
			if out := runTool(t, ".", p.Path, "check-config", cfg); !strings.Contains(out, "SUCCESS") {
				t.Errorf("amtool check-config: no SUCCESS in\n%s", out)
			}
			for _, r := range []struct {
				labels []string
				want   string
			}{
				{[]string{"alertname=BackupFailed", "severity=critical", "host=nas-1", "team=storage"}, "storage-slack"},
				// A storm of storage's hosts alone carries its team (backup.yml's
				// backup_storm:cause_owners): storage's, not the fleet's.
				{[]string{"alertname=BackupFailuresWidespread", "severity=critical", "exit_code=1", "team=storage", "env=prod"}, "storage-slack"},
				{[]string{"alertname=BackupFailuresWidespread", "severity=critical", "repository=nas", "scope=repository", "team=storage"}, "storage-slack"},
				{[]string{"alertname=BackupFailuresWidespread", "severity=critical", "exit_code=1", "env=prod"}, both}, // across teams
				{[]string{"alertname=BackupFailuresWidespreadMember", "severity=none", "host=nas-1"}, "default"},
				{[]string{"alertname=BackupOverdue", "severity=critical", "host=db", "backup_job=dump", "team=dba", "owner=cheery"}, "dba-email"},
				{[]string{"alertname=BackupStatusUnknown", "severity=warning", "host=web"}, "backup-slack"}, // warnings to chat only
				{[]string{"alertname=BackupFailed", "severity=critical", "host=web", "team=web"}, both},
				{[]string{"alertname=BackupPaused", "severity=none", "host=nas-1", "team=storage"}, "default"},
				{[]string{"alertname=BackupwatchWatchdog", "severity=none"}, "heartbeat"},
			} {
				args := append([]string{"config", "routes", "test", "--config.file=" + cfg}, r.labels...)
				cmd := exec.Command(p.Path, args...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("amtool %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
				}
				if got := strings.TrimSpace(stdout.String()); got != r.want {
					t.Errorf("amtool config routes test %v: got %q, want %q", r.labels, got, r.want)
				}
			}
		})
	}
}

// TestPauseInhibits: through the real Alertmanager of both generations,
// with the shipped inhibit rules, a host's pause holds back every alert
// of that host (its jobs' included) and no other host's (db2 is not db);
// a job's pause holds back that job's alerts, not its host's or its other
// jobs'; alerts without a host are never held back; and once the pause
// has ended, its host's alerts are active again by themselves.
func TestPauseInhibits(t *testing.T) {
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) { testPauseInhibits(t, am.Path) })
	}
}

func testPauseInhibits(t *testing.T, am string) {
	live := startLiveAM(t, am)
	base, client := live.base, live.client
	post := func(alerts ...amAlert) {
		t.Helper()
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
	}
	alert := func(name string, labels ...string) amAlert {
		a := amAlert{Labels: map[string]string{"alertname": name, "severity": "critical", "instance": "metrics:10036", "job": "backupwatch"}}
		for i := 0; i+1 < len(labels); i += 2 {
			a.Labels[labels[i]] = labels[i+1]
		}
		return a
	}
	key := func(l map[string]string) string {
		return l["alertname"] + "/" + l["host"] + "@" + l["backup_job"]
	}
	states := func(want map[string]string) {
		t.Helper()
		got := map[string]string{}
		ok := func() bool {
			for k, w := range want {
				if got[k] != w {
					return false
				}
			}
			return true
		}
		deadline := time.Now().Add(30 * time.Second)
		for !ok() && time.Now().Before(deadline) {
			if resp, err := client.Get(base + "/api/v2/alerts"); err == nil {
				var as []struct {
					Labels map[string]string `json:"labels"`
					Status struct {
						State string `json:"state"`
					} `json:"status"`
				}
				if json.NewDecoder(resp.Body).Decode(&as) == nil {
					for _, a := range as {
						got[key(a.Labels)] = a.Status.State
					}
				}
				resp.Body.Close()
			}
			if !ok() {
				time.Sleep(200 * time.Millisecond)
			}
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: state %q, want %q", k, got[k], w)
			}
		}
	}
	hostPause := alert("BackupPaused", "severity", "none", "host", "db")
	post(
		hostPause,
		alert("BackupPaused", "severity", "none", "host", "web", "backup_job", "files"),
		alert("BackupFailed", "host", "db"),
		alert("BackupOverdue", "host", "db", "backup_job", "dump", "team", "dba"),
		alert("BackupRepositoryDisagrees", "host", "db", "repository", "fleet"),
		alert("BackupFailed", "host", "db2"),
		alert("BackupFailed", "host", "web", "backup_job", "files"),
		alert("BackupFailed", "host", "web", "backup_job", "dump"),
		alert("BackupStatusUnknown", "host", "web"),
		alert("BackupStoreUnreachable", "instance", "metrics-2:10036"), // holds back metrics-2's alerts only
	)
	states(map[string]string{
		"BackupPaused/db@":              "active",
		"BackupFailed/db@":              "suppressed",
		"BackupOverdue/db@dump":         "suppressed",
		"BackupRepositoryDisagrees/db@": "suppressed",
		"BackupFailed/db2@":             "active",
		"BackupFailed/web@files":        "suppressed",
		"BackupFailed/web@dump":         "active",
		"BackupStatusUnknown/web@":      "active",
		"BackupStoreUnreachable/@":      "active",
	})
	// The pause ends (Prometheus sends it resolved): db's alerts are back.
	hostPause.EndsAt = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	post(hostPause)
	states(map[string]string{
		"BackupFailed/db@":       "active",
		"BackupOverdue/db@dump":  "active",
		"BackupFailed/web@files": "suppressed",
	})
}
