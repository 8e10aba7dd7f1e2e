package deploy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// TestStormInhibits: through the real Alertmanager of both generations,
// with the shipped file, a storm's members (BackupFailuresWidespreadMember)
// hold back their own BackupFailed, firing or resolved, and nothing else;
// a host failing for another reason comes through; a flapping host's
// BackupFailed is held back by its BackupFlapping; the storm alert itself
// and the flapping one are sent.
func TestStormInhibits(t *testing.T) {
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) { testStormInhibits(t, am.Path) })
	}
}

func testStormInhibits(t *testing.T, am string) {
	a := startLiveAM(t, am)
	alert := func(name string, labels ...string) amAlert {
		x := amAlert{Labels: map[string]string{"alertname": name, "severity": "critical", "instance": "metrics:10036", "job": "backupwatch"}}
		for i := 0; i+1 < len(labels); i += 2 {
			x.Labels[labels[i]] = labels[i+1]
		}
		return x
	}
	storm := alert("BackupFailuresWidespread", "exit_code", "1", "message", "Fatal: unable to open config file")
	storm.Labels["instance"] = ""
	recovered := alert("BackupFailed", "host", "h03")
	recovered.EndsAt = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	a.post(
		storm,
		alert("BackupFailuresWidespreadMember", "severity", "none", "host", "h01"),
		alert("BackupFailuresWidespreadMember", "severity", "none", "host", "h02", "backup_job", "files"),
		alert("BackupFailuresWidespreadMember", "severity", "none", "host", "h03"),
		alert("BackupFailed", "host", "h01", "team", "dba"),
		alert("BackupFailed", "host", "h02", "backup_job", "files"),
		alert("BackupFailed", "host", "h02", "backup_job", "dump"), // another job: no member
		recovered,
		alert("BackupFailed", "host", "other"), // another cause: no member
		alert("BackupOverdue", "host", "h01"),  // another alert of a member
		alert("BackupFlapping", "severity", "warning", "host", "flap", "status", "failed"),
		alert("BackupFailed", "host", "flap", "status", "failed"),
	)
	a.states(map[string]string{
		"BackupFailuresWidespread/@":          "active",
		"BackupFailuresWidespreadMember/h01@": "active",
		"BackupFailed/h01@":                   "suppressed",
		"BackupFailed/h02@files":              "suppressed",
		"BackupFailed/h02@dump":               "active",
		"BackupFailed/other@":                 "active",
		"BackupOverdue/h01@":                  "active",
		"BackupFlapping/flap@":                "active",
		"BackupFailed/flap@":                  "suppressed",
	})
	// The API lists a resolved alert only until it is collected; while it
	// is listed, it is held back like the firing ones.
	if s := a.state("BackupFailed/h03@"); s != "" && s != "suppressed" {
		t.Errorf("BackupFailed/h03@ (resolved during the storm): state %q, want suppressed", s)
	}
}

// liveAM is a running Alertmanager with the shipped file.
type liveAM struct {
	t      *testing.T
	base   string
	client *http.Client
}

func startLiveAM(t *testing.T, am string) *liveAM {
	t.Helper()
	b, err := os.ReadFile("alertmanager/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	c := strings.ReplaceAll(string(b), "/etc/prometheus/alertmanager_templates/backupwatch.tmpl", tmpl)
	c = strings.ReplaceAll(c, "smtp.example.org:587", "127.0.0.1:1")
	base := runAlertmanager(t, am, c, "", "")
	a := &liveAM{t: t, base: base, client: &http.Client{Timeout: 10 * time.Second}}
	return a
}

func (a *liveAM) post(alerts ...amAlert) {
	a.t.Helper()
	body, _ := json.Marshal(alerts)
	resp, err := a.client.Post(a.base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("POST /api/v2/alerts: %d %s", resp.StatusCode, b)
	}
}

// all returns each listed alert's state by "alertname/host@backup_job",
// and by "alertname[severity]/host@backup_job" (a warning and a page of
// one host are two alerts).
func (a *liveAM) all() map[string]string {
	got := map[string]string{}
	resp, err := a.client.Get(a.base + "/api/v2/alerts")
	if err != nil {
		return got
	}
	defer resp.Body.Close()
	var as []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if json.NewDecoder(resp.Body).Decode(&as) == nil {
		for _, x := range as {
			where := "/" + x.Labels["host"] + "@" + x.Labels["backup_job"]
			got[x.Labels["alertname"]+where] = x.Status.State
			got[x.Labels["alertname"]+"["+x.Labels["severity"]+"]"+where] = x.Status.State
		}
	}
	return got
}

func (a *liveAM) state(key string) string { return a.all()[key] }

// states waits (30 s at most) until every key has its wanted state.
func (a *liveAM) states(want map[string]string) {
	a.t.Helper()
	var got map[string]string
	ok := func() bool {
		got = a.all()
		for k, w := range want {
			if got[k] != w {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for !ok() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	for k, w := range want {
		if got[k] != w {
			a.t.Errorf("%s: state %q, want %q", k, got[k], w)
		}
	}
}
