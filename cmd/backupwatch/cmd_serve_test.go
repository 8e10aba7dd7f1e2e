package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// exporter is a `backupwatch serve` running inside the test.
type exporter struct {
	url  string
	log  *parts.LockedBuffer
	stop func(t *testing.T)
	// client and auth reach a serve with a --web.config.file (TLS, basic
	// auth): see startExporterWith.
	client *http.Client
	auth   *[2]string
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startExporter runs `backupwatch <globalArgs> serve <serveArgs>` on a free
// port and waits until it answers /-/healthy.
func startExporter(t *testing.T, globalArgs []string, serveArgs ...string) *exporter {
	t.Helper()
	return startExporterWith(t, &exporter{url: "http://"}, globalArgs, serveArgs...)
}

// startExporterWith is startExporter for a serve reached as e says: e.url
// is the scheme ("https://"), e.client and e.auth how to get through.
func startExporterWith(t *testing.T, e *exporter, globalArgs []string, serveArgs ...string) *exporter {
	t.Helper()
	addr := freeAddr(t)
	logs := &parts.LockedBuffer{}
	g := &globals{
		log:    promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: logs},
		stdout: io.Discard,
		stderr: logs,
	}
	app, cmds := newApp(g)
	args := append(append(append([]string{}, globalArgs...), "--log.level=debug", "serve", "--web.listen-address="+addr), serveArgs...)
	selected, err := app.Parse(args)
	if err != nil {
		t.Fatalf("parse %v: %v", args, err)
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

	e.url, e.log = e.url+addr, logs
	stopped := false
	e.stop = func(t *testing.T) {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve returned %v\n%s", err, logs)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop within 30s of its context ending")
		}
	}
	t.Cleanup(func() {
		e.stop(t)
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("serve exited at start: %v\n%s", err, logs)
		default:
		}
		if code, _ := e.get(t, "/-/healthy"); code == http.StatusOK {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer /-/healthy within 30s\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches path and returns the status code and body; 0 when the
// request failed.
func (e *exporter) get(t *testing.T, path string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	if e.client != nil {
		c.Transport = e.client.Transport
	}
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.auth != nil {
		req.SetBasicAuth(e.auth[0], e.auth[1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// scrape is one parsed /metrics answer.
type scrape struct {
	text     string
	families map[string]*dto.MetricFamily
}

func (e *exporter) scrape(t *testing.T) scrape {
	t.Helper()
	code, body := e.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return scrape{body, fams}
}

// value returns the series of name with the given label pairs, and whether
// there is one.
func (s scrape) value(name string, labelPairs ...string) (float64, bool) {
	mf := s.families[name]
	if mf == nil {
		return 0, false
	}
metrics:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(labelPairs); i += 2 {
			if have[labelPairs[i]] != labelPairs[i+1] {
				continue metrics
			}
		}
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetUntyped() != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// status returns the host's current backup_status, "" when it has none or
// not exactly one.
func (s scrape) status(host string) string {
	cur := ""
	for _, st := range []string{"success", "failed", "unknown"} {
		if v, ok := s.value("backup_status", "host", host, "status", st); ok && v == 1 {
			if cur != "" {
				return ""
			}
			cur = st
		}
	}
	return cur
}

// waitFor scrapes until cond holds, failing after a deadline.
func (e *exporter) waitFor(t *testing.T, what string, cond func(s scrape) bool) scrape {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s := e.scrape(t)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 90s for %s; last scrape:\n%s", what, s.text)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func storeUp(want float64) func(s scrape) bool {
	return func(s scrape) bool { v, ok := s.value("backupwatch_store_up"); return ok && v == want }
}

// putRecord writes a host's record into KV v2 as the runbook's `vault kv put` does.
func putRecord(t *testing.T, c *api.Client, key string, data map[string]any) {
	t.Helper()
	if _, err := c.Logical().Write("kv/data/golemtrust/backup-status/"+key, map[string]any{"data": data}); err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

func writeSecret(t *testing.T, dir, name, value string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// promtoolCheck runs Debian's promtool on an exposition.
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run `make deps` (installs Debian's prometheus package)", err)
	}
	cmd := exec.Command(p, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

const readPolicy = `
path "kv/data/golemtrust/backup-status/*" { capabilities = ["read"] }
path "kv/metadata/golemtrust/backup-status/*" { capabilities = ["list"] }
path "kv/metadata/golemtrust/backup-status" { capabilities = ["list"] }
path "sys/internal/ui/mounts/*" { capabilities = ["read"] }
`

// TestServeThroughVaultFaults runs the exporter against a real Vault that
// is sealed, stopped, restarted and whose tokens are revoked, and checks
// that it keeps serving the last known records, says the store is down, and
// recovers by itself.
func TestServeThroughVaultFaults(t *testing.T) {
	v := vaulttest.Start(t)
	vc := v.Client(t)
	now := time.Now().UTC()
	putRecord(t, vc, "db", map[string]any{"status": "success", "last_success": now.Add(-2 * time.Hour).Format(time.RFC3339)})
	putRecord(t, vc, "auth", map[string]any{"status": "failed", "last_success": now.Add(-30 * time.Hour).Format(time.RFC3339), "last_failure": now.Format(time.RFC3339)})
	putRecord(t, vc, "restore-test", map[string]any{"last_test": now.Add(-24 * time.Hour).Format(time.RFC3339), "result": "passed", "host_tested": "db", "time_to_restore_minutes": "47"})

	v.PutPolicy(t, "backupwatch-read", readPolicy)
	// Short-lived tokens, so that renewal and re-login happen during the test.
	roleID, secretID := v.AppRole(t, "backupwatch", []string{"backupwatch-read"}, 6*time.Second, 12*time.Second)
	dir := t.TempDir()
	global := []string{
		"--vault.address=" + v.Addr,
		"--vault.role-id-file=" + writeSecret(t, dir, "role-id", roleID),
		"--vault.secret-id-file=" + writeSecret(t, dir, "secret-id", secretID),
		"--vault.timeout=2s",
	}
	e := startExporter(t, global, "--refresh.interval=1s", "--refresh.concurrency=4", "--host=metrics")

	s := e.waitFor(t, "the first complete refresh", storeUp(1))
	if code, _ := e.get(t, "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready after a refresh: %d, want 200", code)
	}
	wantStatus := map[string]string{"db": "success", "auth": "failed", "metrics": "unknown"}
	checkStatuses := func(stage string, s scrape) {
		t.Helper()
		for h, want := range wantStatus {
			if got := s.status(h); got != want {
				t.Errorf("%s: %s status %q, want %q", stage, h, got, want)
			}
		}
		if got, _ := s.value("backupwatch_hosts"); got != float64(len(wantStatus)) {
			t.Errorf("%s: backupwatch_hosts = %v, want %d", stage, got, len(wantStatus))
		}
		if got, ok := s.value("backup_restore_test_passed"); !ok || got != 1 {
			t.Errorf("%s: backup_restore_test_passed = %v (present %v), want 1", stage, got, ok)
		}
		if got, _ := s.value("backupwatch_record_problems", "host", "db"); got != 0 {
			t.Errorf("%s: db has %v record problems, want 0", stage, got)
		}
	}
	checkStatuses("vault up", s)
	promtoolCheck(t, s.text)

	// Sealed: the records stay as they were, the store is reported down.
	v.Seal(t)
	s = e.waitFor(t, "store_up 0 while sealed", storeUp(0))
	checkStatuses("vault sealed", s)
	failures, _ := s.value("backupwatch_refresh_failures_total")
	if failures < 1 {
		t.Errorf("backupwatch_refresh_failures_total = %v while sealed, want at least 1", failures)
	}
	if !strings.Contains(e.log.String(), "sealed") {
		t.Errorf("the log does not say vault is sealed")
	}
	if _, page := e.get(t, "/"); !strings.Contains(page, `data-store="down"`) {
		t.Errorf("the status page does not show the store down")
	}
	v.Unseal(t)
	e.waitFor(t, "recovery after unseal", storeUp(1))

	// Stopped: same; no host turns unknown. Restarted: recovers by itself
	// and sees what was written meanwhile... once it is back.
	v.Stop(t)
	s = e.waitFor(t, "store_up 0 while stopped", storeUp(0))
	checkStatuses("vault stopped", s)
	if code, _ := e.get(t, "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready with vault stopped: %d, want 200", code)
	}
	v.Restart(t)
	vc = v.Client(t)
	putRecord(t, vc, "graylog-1", map[string]any{"status": "success", "last_success": now.Format(time.RFC3339)})
	wantStatus["graylog-1"] = "success"
	s = e.waitFor(t, "recovery after restart, with the new host", func(s scrape) bool {
		return storeUp(1)(s) && s.status("graylog-1") == "success"
	})
	checkStatuses("vault restarted", s)

	// Every AppRole token revoked: the exporter logs in again.
	if _, err := vc.Logical().Write("sys/leases/revoke-prefix/auth/approle/login", nil); err != nil {
		t.Fatalf("revoke approle tokens: %v", err)
	}
	putRecord(t, vc, "graylog-2", map[string]any{"status": "failed", "last_failure": now.Format(time.RFC3339)})
	wantStatus["graylog-2"] = "failed"
	s = e.waitFor(t, "recovery after the token was revoked", func(s scrape) bool {
		return storeUp(1)(s) && s.status("graylog-2") == "failed"
	})
	checkStatuses("token revoked", s)

	// Past the tokens' max TTL (12s): renewal no longer helps, re-login does.
	time.Sleep(13 * time.Second)
	putRecord(t, vc, "graylog-3", map[string]any{"status": "success", "last_success": now.Format(time.RFC3339)})
	wantStatus["graylog-3"] = "success"
	s = e.waitFor(t, "a refresh past the token's max TTL", func(s scrape) bool {
		return storeUp(1)(s) && s.status("graylog-3") == "success"
	})
	checkStatuses("token past max TTL", s)

	_, page := e.get(t, "/")
	e.stop(t)
	for what, text := range map[string]string{"log": e.log.String(), "metrics": s.text, "page": page} {
		for name, secret := range map[string]string{"secret id": secretID, "root token": v.RootToken} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s holds the %s", what, name)
			}
		}
	}
}

// TestServeVaultDownAtStart starts the exporter while Vault is down: it
// serves at once, reports the store down, exports no status for hosts it
// has never read, and picks the records up when Vault comes.
func TestServeVaultDownAtStart(t *testing.T) {
	v := vaulttest.Start(t)
	putRecord(t, v.Client(t), "db", map[string]any{"status": "success", "last_success": time.Now().UTC().Format(time.RFC3339)})
	v.Stop(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)

	e := startExporter(t, []string{"--vault.address=" + v.Addr, "--vault.timeout=1s"}, "--refresh.interval=1s", "--host=db", "--host=auth")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := e.get(t, "/-/ready"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/-/ready not 200 within 60s of a failed first refresh")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s := e.scrape(t)
	if up, ok := s.value("backupwatch_store_up"); !ok || up != 0 {
		t.Errorf("backupwatch_store_up = %v (present %v), want 0", up, ok)
	}
	// Nothing has been read: no status and no age rather than false ones,
	// so one alert (the store unreachable) fires, not one per host.
	for _, h := range []string{"db", "auth"} {
		if got := s.status(h); got != "" {
			t.Errorf("%s: status %q with vault down since start, want none", h, got)
		}
		if got, ok := s.value("backup_last_success_age_seconds", "host", h); ok {
			t.Errorf("%s: age %v with vault down since start, want none", h, got)
		}
		if got, ok := s.value("backupwatch_record_problems", "host", h); !ok || got != 1 {
			t.Errorf("%s: record problems %v (present %v), want 1 (store not reached)", h, got, ok)
		}
	}
	if got, ok := s.value("backup_restore_test_age_seconds"); ok {
		t.Errorf("restore test age %v with vault down since start, want none", got)
	}
	if _, ok := s.value("backupwatch_last_refresh_success_timestamp_seconds"); ok {
		t.Errorf("backupwatch_last_refresh_success_timestamp_seconds is set before any refresh succeeded")
	}
	if code, page := e.get(t, "/"); code != 200 || !strings.Contains(page, "not been reached since start") {
		t.Errorf("status page with vault down at start: %d\n%s", code, page)
	}
	promtoolCheck(t, s.text)

	v.Restart(t)
	s = e.waitFor(t, "the records once vault is up", func(s scrape) bool { return storeUp(1)(s) && s.status("db") == "success" })
	if got := s.status("auth"); got != "unknown" {
		t.Errorf("auth (no record): status %q, want unknown", got)
	}
}

// TestServeMalformedRecordsInVault writes records that are wrong in every
// way through Vault's API (JSON types a shell never writes included) and
// checks that the rest of the fleet is exported and the bad hosts reported.
func TestServeMalformedRecordsInVault(t *testing.T) {
	v := vaulttest.Start(t)
	vc := v.Client(t)
	now := time.Now().UTC()
	good := map[string]any{"status": "success", "last_success": now.Add(-time.Hour).Format("2006-01-02T15:04:05-07:00")}
	putRecord(t, vc, "good", good)
	bad := map[string]map[string]any{
		"missing-fields":   {"note": "nothing useful"},
		"empty-strings":    {"status": "", "last_success": "", "last_failure": ""},
		"other-format":     {"status": "SUCCESS", "last_success": now.Add(-time.Hour).Format(time.RFC1123Z), "exit_code": "oops"},
		"not-a-time":       {"status": "success", "last_success": "the day before yesterday"},
		"unknown-status":   {"status": "partially", "last_success": now.Format(time.RFC3339)},
		"json-types":       {"status": true, "last_success": 12, "exit_code": map[string]any{"x": 1}, "duration_seconds": []any{1, 2}},
		"huge":             {"status": "success", "last_success": strings.Repeat("9", 5000), "bytes_added": "1e999", "message": strings.Repeat("x", 100000)},
		"hostile":          {"status": "failed\"}\n", "snapshot_id": "\"}\n# HELP x\n", "last_failure": now.Format(time.RFC3339)},
		`back\slash"quote`: {"status": "success", "last_success": now.Format(time.RFC3339)},
		"unicode-ünï":      {"status": "success", "last_success": now.Format(time.RFC3339), "snapshot_id": "\u202eevil\u0000"},
	}
	for h, d := range bad {
		putRecord(t, vc, h, d)
	}
	putRecord(t, vc, "folder/inside", good)
	putRecord(t, vc, "restore-test", map[string]any{"last_test": "soon", "result": 1})

	t.Setenv("VAULT_TOKEN", v.RootToken)
	e := startExporter(t, []string{"--vault.address=" + v.Addr}, "--refresh.interval=1s")
	s := e.waitFor(t, "a complete refresh", storeUp(1))
	promtoolCheck(t, s.text)

	if got := s.status("good"); got != "success" {
		t.Errorf("good: status %q, want success", got)
	}
	if got, _ := s.value("backup_last_success_age_seconds", "host", "good"); got < 3600 || got > 3600+300 {
		t.Errorf("good: age %v, want about 3600", got)
	}
	if got, _ := s.value("backupwatch_record_problems", "host", "good"); got != 0 {
		t.Errorf("good: %v record problems, want 0", got)
	}
	for h := range bad {
		if got, ok := s.value("backupwatch_record_problems", "host", h); !ok || got < 1 {
			t.Errorf("%q: backupwatch_record_problems = %v (present %v), want at least 1", h, got, ok)
		}
		if s.status(h) == "" {
			t.Errorf("%q: not exactly one backup_status series at 1", h)
		}
	}
	if got, _ := s.value("backupwatch_store_problems"); got != 1 {
		t.Errorf("backupwatch_store_problems = %v, want 1 (the folder)", got)
	}
	if got, _ := s.value("backup_restore_test_passed"); got != 0 {
		t.Errorf("backup_restore_test_passed = %v for result 1, want 0", got)
	}
	if got, _ := s.value("backup_restore_test_result", "result", "unknown"); got != 1 {
		t.Errorf(`backup_restore_test_result{result="unknown"} = %v, want 1`, got)
	}
	if got, _ := s.value("backupwatch_hosts"); got != float64(len(bad)+1) {
		t.Errorf("backupwatch_hosts = %v, want %d", got, len(bad)+1)
	}
	if strings.Contains(s.text, strings.Repeat("x", 2000)) {
		t.Errorf("a 100 kB message reached /metrics")
	}
	if code, page := e.get(t, "/"); code != 200 || strings.Contains(page, "\"}\n# HELP") || strings.Count(page, `<script`) != 1 { // 1: the page's filter
		t.Errorf("status page: %d, or an unescaped value", code)
	}
}

// hangingProxy forwards TCP connections to a backend until told to hang:
// then it drops the connections it forwards and holds new ones open without
// ever answering, as a Vault stuck behind a load balancer does.
type hangingProxy struct {
	l       net.Listener
	backend string

	mu    sync.Mutex
	hang  bool
	conns map[net.Conn]bool
}

func startHangingProxy(t *testing.T, backend string) *hangingProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangingProxy{l: l, backend: backend, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		l.Close()
		p.setHang(false)
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *hangingProxy) addr() string { return "http://" + p.l.Addr().String() }

func (p *hangingProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = true
	return p.hang
}

func (p *hangingProxy) serve(c net.Conn) {
	defer c.Close()
	if p.track(c) {
		io.Copy(io.Discard, c) // never answer; wait for the client to give up
		return
	}
	up, err := net.Dial("tcp", p.backend)
	if err != nil {
		return
	}
	defer up.Close()
	go io.Copy(up, c)
	io.Copy(c, up)
}

// setHang switches modes; hanging closes every connection in progress.
func (p *hangingProxy) setHang(hang bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang = hang
	if hang {
		for c := range p.conns {
			c.Close()
		}
	}
	p.conns = map[net.Conn]bool{}
}

// TestServeVaultHangs puts a Vault that accepts connections and never
// answers behind the exporter: every request meets its deadline, the
// exporter keeps answering with the last records, and recovers after.
func TestServeVaultHangs(t *testing.T) {
	v := vaulttest.Start(t)
	putRecord(t, v.Client(t), "db", map[string]any{"status": "failed", "last_failure": time.Now().UTC().Format(time.RFC3339)})
	p := startHangingProxy(t, strings.TrimPrefix(v.Addr, "http://"))
	t.Setenv("VAULT_TOKEN", v.RootToken)
	e := startExporter(t, []string{"--vault.address=" + p.addr(), "--vault.timeout=1s"}, "--refresh.interval=1s")
	e.waitFor(t, "a complete refresh", func(s scrape) bool { return storeUp(1)(s) && s.status("db") == "failed" })

	p.setHang(true)
	s := e.waitFor(t, "store_up 0 while vault hangs", storeUp(0))
	if got := s.status("db"); got != "failed" {
		t.Errorf("db while vault hangs: status %q, want the last known failed", got)
	}
	if !strings.Contains(e.log.String(), "did not answer in time") {
		t.Errorf("the log does not say vault did not answer in time")
	}
	p.setHang(false)
	e.waitFor(t, "recovery after vault answers again", storeUp(1))
}
