package deploy

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// TestEscalationInhibits: through the real Alertmanager of both
// generations, with the shipped inhibit rules, a failure that pages
// (BackupFailed, severity critical) holds back its own warning (the same
// host and job), and no other host's or job's; when the page resolves,
// nothing holds the warning back any more.
func TestEscalationInhibits(t *testing.T) {
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) { testEscalationInhibits(t, am.Path) })
	}
}

func testEscalationInhibits(t *testing.T, am string) {
	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	c := strings.ReplaceAll(string(b), "/etc/prometheus/alertmanager_templates/backupwatch.tmpl", tmpl)
	c = strings.ReplaceAll(c, "smtp.example.org:587", "127.0.0.1:1")
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(am, "--config.file="+cfgPath, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logs.String())
		}
	}()
	base := "http://" + addr
	client := &http.Client{Timeout: 10 * time.Second}
	waitUntil(t, "alertmanager ready", func() bool {
		resp, err := client.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
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
	failed := func(severity, host, job string) amAlert {
		l := map[string]string{"alertname": "BackupFailed", "severity": severity, "host": host, "instance": "metrics:10036", "job": "backupwatch"}
		if job != "" {
			l["backup_job"] = job
		}
		return amAlert{Labels: l}
	}
	key := func(l map[string]string) string { return l["severity"] + "/" + l["host"] + "@" + l["backup_job"] }
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
				t.Errorf("BackupFailed %s: state %q, want %q", k, got[k], w)
			}
		}
	}
	page := failed("critical", "db", "")
	post(page, failed("warning", "db", ""), failed("warning", "db", "dump"), failed("warning", "web", ""))
	states(map[string]string{
		"critical/db@":    "active",
		"warning/db@":     "suppressed",
		"warning/db@dump": "active",
		"warning/web@":    "active",
	})
	page.EndsAt = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	post(page)
	states(map[string]string{"warning/db@": "active"})
}
