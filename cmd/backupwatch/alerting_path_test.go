package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"golang.org/x/crypto/bcrypt"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

// startDeadman runs `backupwatch deadman <args>` on a free port, as serve
// is run by startExporter, and returns its address and a stop function.
func startDeadman(t *testing.T, user, password string, args ...string) (string, func()) {
	t.Helper()
	addr := freeAddr(t)
	logs := &parts.LockedBuffer{}
	g := &globals{
		log:    promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: logs},
		stdout: io.Discard,
		stderr: logs,
	}
	app, cmds := newApp(g)
	selected, err := app.Parse(append([]string{"deadman", "--web.listen-address=" + addr}, args...))
	if err != nil {
		t.Fatalf("parse deadman %v: %v", args, err)
	}
	g.logger = promslog.New(&g.log)
	var cmd command
	for _, c := range cmds {
		if c.clause.FullCommand() == selected {
			cmd = c
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("deadman returned %v\n%s", err, logs)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("deadman did not stop within 30s of its context ending")
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("deadman log:\n%s", logs)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/-/healthy", nil)
		req.SetBasicAuth(user, password)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, stop
			}
		}
		select {
		case err := <-done:
			t.Fatalf("deadman exited at start: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("deadman did not answer within 30s\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAlertingPathSeen (issue 18 item 7): a real `backupwatch deadman`
// behind basic auth, heartbeats from two senders, then one silent, then
// both, then the switch stopped: `status --deadman.url` and serve's page
// say each, status exits 3 from the first silence on, and the password in
// the URL is never printed.
func TestAlertingPathSeen(t *testing.T) {
	dir := t.TempDir()
	const user, password = "prometheus", "s3cret-Alerting-Pa55"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  "+user+": "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer slack.Close()
	addr, stopDeadman := startDeadman(t, user, password, "--timeout=2s", "--sender=am-1", "--sender=am-2",
		"--slack.webhook-url-file="+writeSecret(t, dir, "slack-url", slack.URL), "--web.config.file="+webConfig,
		"--state.file="+filepath.Join(dir, "deadman.json"))
	dmURL := "http://" + user + ":" + password + "@" + addr

	// The senders, as Alertmanager's repeat_interval would, much faster.
	var beating [2]atomic.Bool
	beating[0].Store(true)
	beating[1].Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for i, name := range []string{"am-1", "am-2"} {
				if beating[i].Load() {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/heartbeat?sender="+name, nil)
					req.SetBasicAuth(user, password)
					if resp, err := http.DefaultClient.Do(req); err == nil {
						resp.Body.Close()
					}
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	store := "--store.dir=" + filepath.Join(dir, "records")
	if code, _, errOut := cli(t, store, "record", "--status=success", "--host=db"); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	e := startExporter(t, []string{store}, "--refresh.interval=1s", "--deadman.url="+dmURL)
	var printed []string
	// seen waits until status and the page both show the switch in state,
	// and returns status's exit code, table and report.
	seen := func(state string) (int, string, statusview.AlertingPath) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, out, errOut := cli(t, store, "status", "--host=db", "-o", "json", "--deadman.url="+dmURL)
			printed = append(printed, out, errOut)
			var rep statusview.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("status -o json: %v\n%s%s", err, out, errOut)
			}
			_, page := e.get(t, "/")
			printed = append(printed, page)
			if len(rep.AlertingPath) == 1 && rep.AlertingPath[0].State == state && strings.Contains(page, `data-alerting-state="`+state+`"`) {
				tcode, table, terr := cli(t, store, "status", "--host=db", "--deadman.url="+dmURL)
				printed = append(printed, table, terr)
				if tcode != code {
					t.Errorf("%s: status exits %d as a table, %d as JSON", state, tcode, code)
				}
				return code, table, rep.AlertingPath[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("status and the page did not show the switch %s within 60s: %+v\n%s", state, rep.AlertingPath, page)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	code, table, a := seen("fine")
	if code != exitOK || !strings.Contains(table, "alerting path: heartbeats fine from am-1 ") || len(a.Senders) != 2 || a.Senders[1].AgeSeconds == nil || a.Switch != "http://"+addr+"/metrics" {
		t.Errorf("heartbeats fine: exit %d, %+v\n%s", code, a, table)
	}

	beating[1].Store(false)
	code, table, a = seen("partial")
	if code != exitUnhealthy || !strings.Contains(table, "alerting path: 1 of 2 senders silent: am-2 since ") || !a.Senders[1].Silent || a.Senders[0].Silent {
		t.Errorf("one sender silent: exit %d, %+v\n%s", code, a, table)
	}

	beating[0].Store(false)
	code, table, _ = seen("silent")
	if code != exitUnhealthy || !strings.Contains(table, "alerting path: all 2 senders silent: am-1 since ") {
		t.Errorf("all senders silent: exit %d\n%s", code, table)
	}

	stopDeadman()
	code, table, a = seen("unreachable")
	if code != exitUnhealthy || !strings.Contains(table, "is unreachable: ") || !strings.Contains(a.Error, "connection refused") {
		t.Errorf("switch stopped: exit %d, %+v\n%s", code, a, table)
	}

	for _, p := range append(printed, e.log.String()) {
		if strings.Contains(p, password) {
			t.Fatalf("the password was printed:\n%s", p)
		}
	}
}

// TestDeadmanURLRefused: a --deadman.url that cannot be a switch's stops
// status and serve with exit 2, never repeating its password.
func TestDeadmanURLRefused(t *testing.T) {
	store := "--store.dir=" + t.TempDir()
	for _, args := range [][]string{
		{store, "status", "--deadman.url=ftp://u:hunter2-secret@deadman:10037"},
		{store, "serve", "--deadman.url=http://u:hunter2-secret@deadman:10037/metrics?x=1"},
		{store, "check", "--deadman.url=deadman:10037"},
		{store, "status", "--deadman.url=http://deadman:10037", "--deadman.ca-file=/nonexistent/ca.pem"}, // --deadman.ca-file: read the CA file

	} {
		code, out, errOut := cli(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "--deadman.") || strings.Contains(out+errOut, "hunter2") {
			t.Errorf("%v: exit %d, %q; want %d naming --deadman.url, no password", args[1:], code, errOut, exitUsage)
		}
	}
}

// TestAlertingPathNeverWaited: while the switch holds serve's read
// unanswered, the page and /metrics are served all the same, the switch
// shown as not read yet; once it answers garbage, as unreachable.
func TestAlertingPathNeverWaited(t *testing.T) {
	asked := make(chan struct{}, 1)
	release := make(chan struct{})
	sw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("<html>not metrics</html>"))
	}))
	defer sw.Close()
	store := "--store.dir=" + t.TempDir()
	if code, _, errOut := cli(t, store, "record", "--status=success", "--host=db"); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	e := startExporter(t, []string{store}, "--refresh.interval=1h", "--deadman.url="+sw.URL)
	<-asked
	if code, page := e.get(t, "/"); code != http.StatusOK || !strings.Contains(page, `data-alerting-state="pending"`) {
		t.Errorf("the page while the switch is read: %d, want 200 showing it pending:\n%s", code, page)
	}
	if code, _ := e.get(t, "/metrics"); code != http.StatusOK {
		t.Errorf("/metrics while the switch is read: %d", code)
	}
	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, page := e.get(t, "/")
		if strings.Contains(page, `data-alerting-state="unreachable"`) {
			if !strings.Contains(page, "not Prometheus") {
				t.Errorf("the page does not say why the switch cannot be read:\n%s", page)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not show the switch unreachable within 30s:\n%s", page)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
