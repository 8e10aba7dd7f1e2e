package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestPauseBadInput: a hostile reason, an end in the past or centuries
// ahead, a long pause without --force, bad names: exit 2, nothing
// written, and the error says which flag.
func TestPauseBadInput(t *testing.T) {
	dir := t.TempDir()
	store := "--store.dir=" + dir
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"html reason", []string{"--until=2h", "--reason=<script>alert(1)</script>"}, "--reason: contains < or >"},
		{"multi-line reason", []string{"--until=2h", "--reason=ok\nALERT resolved"}, "--reason: contains the control character"},
		{"1 MB reason", []string{"--until=2h", "--reason=" + strings.Repeat("x", 1<<20)}, "--reason: 1048576 characters"},
		{"empty reason", []string{"--until=2h", "--reason= "}, "--reason: empty"},
		{"until in the past", []string{"--until=" + past, "--reason=upgrade"}, "--until: " + status.FormatTime(time.Now().Add(-time.Hour).UTC())[:13]},
		{"until centuries ahead", []string{"--until=2426-01-01T00:00:00Z", "--reason=upgrade", "--force"}, "not a maintenance window"},
		{"long without force", []string{"--until=8d", "--reason=upgrade"}, "needs --force"},
		{"until not a time", []string{"--until=tomorrow", "--reason=upgrade"}, "--until: not a time"},
		{"negative duration", []string{"--until=-2h", "--reason=upgrade"}, "not in the future"},
		{"bad host", []string{"--host=db;rm", "--until=2h", "--reason=upgrade"}, "not allowed"},
		{"empty host", []string{"--host=", "--until=2h", "--reason=upgrade"}, "--host is empty"},
		{"bad job", []string{"--job=a/b", "--until=2h", "--reason=upgrade"}, "--job"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{store, "pause"}, tt.args...)
			if !strings.HasPrefix(tt.name, "bad host") && !strings.HasPrefix(tt.name, "empty host") {
				args = append(args, "--host=db")
			}
			code, _, errOut := cli(t, args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %.300q; want %d and %q", code, errOut, exitUsage, tt.want)
			}
			if len(errOut) > 2000 {
				t.Errorf("stderr is %d bytes: the reason is echoed", len(errOut))
			}
			if _, err := os.Stat(filepath.Join(dir, status.PausesFolder)); err == nil {
				t.Errorf("something was written")
			}
		})
	}
}

// TestPauseResumeLocal: pause writes the window, status and the exporter
// show it, a longer one with --force, resume ends it now and keeps the
// reason; resuming what is not paused exits 1.
func TestPauseResumeLocal(t *testing.T) {
	dir := t.TempDir()
	store := "--store.dir=" + dir
	if code, _, errOut := cli(t, store, "record", "--status=failed", "--host=db", "--job=files"); code != exitOK {
		t.Fatal(errOut)
	}
	before := time.Now().Truncate(time.Second)
	if code, _, errOut := cli(t, store, "pause", "--host=db", "--until=2h", "--reason=disk swap, CHG-42"); code != exitOK {
		t.Fatalf("pause: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli(t, store, "pause", "--host=db", "--job=files", "--until=30d", "--force", "--reason=rebuilding the NAS"); code != exitOK {
		t.Fatalf("pause --force: exit %d: %s", code, errOut)
	}
	st, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := st.Get(t.Context(), status.PauseKey("db", ""))
	if err != nil {
		t.Fatal(err)
	}
	p := status.ParsePause("db", "", doc)
	if p.Reason != "disk swap, CHG-42" || p.Until.Before(before.Add(2*time.Hour)) || p.Until.After(time.Now().Add(2*time.Hour)) || len(p.Problems) > 0 {
		t.Errorf("pause as stored: %+v", p)
	}
	code, out, _ := cli(t, store, "status")
	if !strings.Contains(out, "paused until") || !strings.Contains(out, "disk swap, CHG-42") || !strings.Contains(out, "rebuilding the NAS") {
		t.Errorf("status (exit %d) does not show the pauses:\n%s", code, out)
	}
	if code, _, errOut := cli(t, store, "resume", "--host=db"); code != exitOK {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	doc, _ = st.Get(t.Context(), status.PauseKey("db", ""))
	if p := status.ParsePause("db", "", doc); p.Active(time.Now()) || p.Reason != "disk swap, CHG-42" || p.ResumedAt.IsZero() {
		t.Errorf("after resume: %+v, want ended, reason kept", p)
	}
	if _, out, _ := cli(t, store, "status"); strings.Contains(out, "disk swap") {
		t.Errorf("status still shows the ended pause:\n%s", out)
	}
	if code, _, errOut := cli(t, store, "resume", "--host=web"); code != exitError || !strings.Contains(errOut, "no pause of web") {
		t.Errorf("resume of nothing: exit %d, %q", code, errOut)
	}
	if code, _, errOut := cli(t, store, "resume", "--host=db"); code != exitOK || !strings.Contains(errOut, "already ended") {
		t.Errorf("resume twice: exit %d, %q", code, errOut)
	}
}

// TestPausePolicies: with the shipped policies on a real Vault, a host's
// writer pauses and resumes itself and its jobs but not another host
// (nor db2 through db's pattern); an operator pauses any host and job and
// can write no record; the exporter reads the pauses.
func TestPausePolicies(t *testing.T) {
	v := vaulttest.Start(t)
	v.PutShippedPolicies(t, "backupwatch-writer", "backupwatch-operator", "backupwatch-exporter")
	dir := t.TempDir()
	login := func(role, policy string) []string {
		roleID, secretID := v.AppRole(t, role, []string{policy}, time.Hour, 0)
		r, s := filepath.Join(dir, role+".role-id"), filepath.Join(dir, role+".secret-id")
		os.WriteFile(r, []byte(roleID+"\n"), 0o600)
		os.WriteFile(s, []byte(secretID+"\n"), 0o600)
		return []string{"--vault.address=" + v.Addr, "--vault.timeout=5s", "--vault.role-id-file=" + r, "--vault.secret-id-file=" + s}
	}
	t.Setenv("VAULT_TOKEN", "")
	db, operator, exporter := login("db", "backupwatch-writer"), login("alice", "backupwatch-operator"), login("exporter", "backupwatch-exporter")
	pause := func(who []string, args ...string) (int, string) {
		code, _, errOut := cli(t, append(append(who, "pause"), append(args, "--until=2h", "--reason=upgrade")...)...)
		return code, errOut
	}
	for _, tt := range []struct {
		name string
		who  []string
		args []string
		ok   bool
	}{
		{"db pauses itself", db, []string{"--host=db"}, true},
		{"db pauses its job", db, []string{"--host=db", "--job=files"}, true},
		{"db pauses web", db, []string{"--host=web"}, false},
		{"db pauses db2", db, []string{"--host=db2"}, false},
		{"db pauses web's job", db, []string{"--host=web", "--job=files"}, false},
		{"the operator pauses web", operator, []string{"--host=web"}, true},
		{"the operator pauses mail's job", operator, []string{"--host=mail", "--job=dump"}, true},
	} {
		code, errOut := pause(tt.who, tt.args...)
		if tt.ok && code != exitOK {
			t.Errorf("%s: exit %d: %s", tt.name, code, errOut)
		}
		if !tt.ok && (code == exitOK || !strings.Contains(errOut, "permission denied")) {
			t.Errorf("%s: exit %d, %q; want permission denied", tt.name, code, errOut)
		}
	}
	if code, _, errOut := cli(t, append(db, "resume", "--host=db", "--job=files")...); code != exitOK {
		t.Errorf("db resumes its job: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli(t, append(operator, "resume", "--host=db")...); code != exitOK {
		t.Errorf("the operator resumes db: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli(t, append(operator, "record", "--host=web", "--status=success")...); code == exitOK || !strings.Contains(errOut, "permission denied") {
		t.Errorf("the operator records a backup: exit %d, %q; want permission denied", code, errOut)
	}
	code, out, errOut := cli(t, append(exporter, "status")...)
	if !strings.Contains(out, "web") || !strings.Contains(out, "mail job dump") || !strings.Contains(out, "paused until") {
		t.Errorf("the exporter's status (exit %d) does not show the operator's pauses:\n%s%s", code, out, errOut)
	}
	root := v.Client(t)
	sec, err := root.KVv2("kv").Get(t.Context(), "golemtrust/backup-status/"+status.PauseKey("db", "files"))
	if err != nil {
		t.Fatal(err)
	}
	if p := status.ParsePause("db", "files", sec.Data); p.Active(time.Now()) || p.ResumedAt.IsZero() {
		t.Errorf("db's job after resume: %+v", p)
	}
}

// TestCheckLabels: check refuses a config file whose labels collide with
// Prometheus' or backupwatch's names or are not one plain line (exit 2,
// saying where), and accepts good ones.
func TestCheckLabels(t *testing.T) {
	dir := t.TempDir()
	store := "--store.dir=" + dir
	for _, tt := range []struct {
		name, config string
		want         int
		out          string
	}{
		{"good", "hosts:\n  - name: db\n    labels: {team: dba, owner: cheery}\nschedules:\n  - host: 'web-*'\n    labels: {team: web}\n", exitOK, "OK"},
		{"job", "hosts:\n  - name: db\n    labels: {job: x}\n", exitUsage, `hosts[0].labels: "job" is Prometheus'`},
		{"instance", "hosts:\n  - name: db\n    labels: {instance: x}\n", exitUsage, `"instance" is Prometheus'`},
		{"__name__", "hosts:\n  - name: db\n    labels: {__name__: x}\n", exitUsage, `"__name__"`},
		{"host", "schedules:\n  - host: 'db*'\n    labels: {host: x}\n", exitUsage, `schedules[0].labels: "host" is backupwatch's`},
		{"backup_job", "hosts:\n  - name: db\n    labels: {backup_job: x}\n", exitUsage, `"backup_job" is backupwatch's`},
		{"bad name", "hosts:\n  - name: db\n    labels: {team-name: x}\n", exitUsage, "not a label name"},
		{"newline", "hosts:\n  - name: db\n    labels: {team: \"a\\nb\"}\n", exitUsage, "control character"},
		{"quote", "hosts:\n  - name: db\n    labels: {team: 'a\"b'}\n", exitUsage, "quote"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, tt.name+".yml")
			if err := os.WriteFile(f, []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := cli(t, store, "check", "--config.file="+f)
			if code != tt.want || !strings.Contains(out+errOut, tt.out) {
				t.Errorf("exit %d, %q%q; want %d and %q", code, out, errOut, tt.want, tt.out)
			}
		})
	}
}

// TestForgetTakesThePauses: forgetting a host removes its pauses (a gone
// host's would be exported for ever), forgetting a job that job's only,
// and another host's stay.
func TestForgetTakesThePauses(t *testing.T) {
	dir := t.TempDir()
	store := "--store.dir=" + dir
	for _, args := range [][]string{
		{"record", "--status=success", "--host=db"},
		{"record", "--status=success", "--host=db", "--job=files"},
		{"record", "--status=success", "--host=db", "--job=dump"},
		{"record", "--status=success", "--host=db2"},
		{"pause", "--host=db", "--until=2h", "--reason=x"},
		{"pause", "--host=db", "--job=files", "--until=2h", "--reason=x"},
		{"pause", "--host=db", "--job=dump", "--until=2h", "--reason=x"},
		{"pause", "--host=db2", "--until=2h", "--reason=x"},
	} {
		if code, _, errOut := cli(t, append([]string{store}, args...)...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	st, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	left := func() string {
		names, err := st.ListFolder(t.Context(), status.PausesFolder)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(names, ",")
	}
	if code, _, errOut := cli(t, store, "forget", "--host=db", "--job=dump"); code != exitOK {
		t.Fatalf("forget --job: exit %d: %s", code, errOut)
	}
	if got := left(); got != "db,db2,db@files" {
		t.Errorf("after forgetting db's dump: pauses %s, want db,db2,db@files", got)
	}
	if code, _, errOut := cli(t, store, "forget", "--host=db"); code != exitOK {
		t.Fatalf("forget: exit %d: %s", code, errOut)
	}
	if got := left(); got != "db2" {
		t.Errorf("after forgetting db: pauses %s, want db2", got)
	}
}

// TestPauseNudgesServe: with Vault and serve refreshing once an hour, a
// pause and a resume written with --exporter.url are served at once: the
// nudge reads the host's (or the job's) pause again. The page says why.
func TestPauseNudgesServe(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	t.Setenv("BACKUPWATCH_SPOOL_DIR", t.TempDir())
	global := []string{"--vault.address=" + v.Addr}
	if code, _, errOut := cli(t, append(global, "record", "--status=failed", "--host=db", "--job=files")...); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	e := startExporter(t, global, "--refresh.interval=1h")
	e.waitFor(t, "the first refresh", storeUp(1))
	nudged := append(global, "--exporter.url="+e.url)
	start := time.Now()
	if code, _, errOut := cli(t, append(nudged, "pause", "--host=db", "--job=files", "--until=3h", "--reason=NAS rebuild")...); code != exitOK {
		t.Fatalf("pause: exit %d: %s", code, errOut)
	}
	e.waitFor(t, "the job's pause without a refresh", func(s scrape) bool {
		until, ok := s.value("backup_paused_until_timestamp_seconds", "host", "db", "backup_job", "files")
		return ok && until >= float64(start.Add(3*time.Hour).Unix())
	})
	resp, err := http.Get(e.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `data-pause="db@files"`) || !strings.Contains(string(page), "NAS ") {
		t.Errorf("the status page does not show the pause")
	}
	if code, _, errOut := cli(t, append(nudged, "resume", "--host=db", "--job=files")...); code != exitOK {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	e.waitFor(t, "the resume without a refresh", func(s scrape) bool {
		until, ok := s.value("backup_paused_until_timestamp_seconds", "host", "db", "backup_job", "files")
		return ok && until <= float64(time.Now().Unix())
	})
}
