package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestRunbookReplay runs the replay against a real Vault and checks that it
// writes what the runbook's script would: the recorded status or unknown,
// and the age of last_success, or of the epoch when there is none or
// `date -d` cannot read it.
func TestRunbookReplay(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "date"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the runbook replay needs %s: run `make deps`: %v", tool, err)
		}
	}
	s := vaulttest.Start(t)
	policy, err := loadPolicy(filepath.Join("..", "..", shippedPolicy))
	if err != nil {
		t.Fatal(err)
	}
	s.PutPolicy(t, role, policy)
	roleID, secretID := s.AppRole(t, role, []string{role}, time.Hour, time.Hour)
	dir := t.TempDir()
	roleIDFile, secretIDFile := filepath.Join(dir, "role-id"), filepath.Join(dir, "secret-id")
	for path, v := range map[string]string{roleIDFile: roleID, secretIDFile: secretID} {
		if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	records := map[string]map[string]any{
		"db":           {"status": "success", "last_success": "2026-11-24T02:00:13+00:00"},
		"graylog-1":    {"status": "failed", "last_success": "2026-11-20T02:00:00+01:00", "last_failure": "2026-11-24T02:00:00+01:00"},
		"garbled":      {"status": "success", "last_success": "not a date"},
		"new":          {"status": "failed"},
		"restore-test": {"last_test": "2026-10-15T10:00:00+00:00", "result": "passed"},
	}
	kv := s.Client(t).KVv2(mount)
	for key, data := range records {
		if _, err := kv.Put(context.Background(), prefix+"/"+key, data); err != nil {
			t.Fatalf("writing %s: %v", key, err)
		}
	}

	out := filepath.Join(dir, "backup.prom")
	hosts := []string{"db", "graylog-1", "garbled", "new", "ghost"}
	cmd := exec.Command("bash", append([]string{"runbook-replay.sh"}, hosts...)...)
	cmd.Env = append(cleanEnv(), "VAULT_ADDR="+s.Addr, "ROLE_ID_FILE="+roleIDFile, "SECRET_ID_FILE="+secretIDFile, "METRICS_FILE="+out)
	before := time.Now().Unix()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runbook-replay.sh: %v\n%s", err, b)
	}
	after := time.Now().Unix()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")

	unix := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	type line struct {
		series string
		since  int64 // the age is now minus this; -1: the value is 1
	}
	want := []line{
		{`backup_last_success_age_seconds{host="db"}`, unix("2026-11-24T02:00:13Z")},
		{`backup_status{host="db",status="success"}`, -1},
		{`backup_last_success_age_seconds{host="graylog-1"}`, unix("2026-11-20T01:00:00Z")},
		{`backup_status{host="graylog-1",status="failed"}`, -1},
		{`backup_last_success_age_seconds{host="garbled"}`, 0},
		{`backup_status{host="garbled",status="success"}`, -1},
		{`backup_last_success_age_seconds{host="new"}`, 0},
		{`backup_status{host="new",status="failed"}`, -1},
		{`backup_last_success_age_seconds{host="ghost"}`, 0},
		{`backup_status{host="ghost",status="unknown"}`, -1},
		{`backup_restore_test_age_seconds`, unix("2026-10-15T10:00:00Z")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), b)
	}
	for i, w := range want {
		series, value, _ := strings.Cut(got[i], " ")
		if series != w.series {
			t.Errorf("line %d: got %s, want %s", i+1, series, w.series)
			continue
		}
		v, err := strconv.ParseInt(value, 10, 64)
		switch {
		case err != nil:
			t.Errorf("%s: value %q: %v", series, value, err)
		case w.since < 0 && v != 1:
			t.Errorf("%s: got %d, want 1", series, v)
		case w.since >= 0 && (v < before-w.since || v > after-w.since):
			t.Errorf("%s: got %d, want between %d and %d", series, v, before-w.since, after-w.since)
		}
	}
}

// TestRecordsAreClean checks that the fleet the bench writes reads back
// without a diagnostic, so the bench times the ordinary path, and that
// its failed count is what the readers will find.
func TestRecordsAreClean(t *testing.T) {
	now := time.Now()
	failed := 0
	for i := range 2000 {
		doc, isFailed := record(i, now)
		r := status.Parse(hostName(i), doc)
		if len(r.Problems) > 0 {
			t.Errorf("%s: problems %q in %v", hostName(i), r.Problems, doc)
		}
		if err := status.ValidateHost(hostName(i)); err != nil {
			t.Errorf("%s: %v", hostName(i), err)
		}
		if got := r.Status == status.Failed; got != isFailed {
			t.Errorf("%s: status %s, want failed=%v", hostName(i), r.Status, isFailed)
		}
		if isFailed {
			failed++
		}
	}
	if failed == 0 || failed > 200 {
		t.Errorf("got %d failed hosts of 2000, want some, about one in twenty", failed)
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{3 * ms}, 3 * ms},
		{[]time.Duration{9 * ms, 1 * ms, 5 * ms}, 5 * ms},
		{[]time.Duration{4 * ms, 1 * ms, 2 * ms, 100 * ms}, 3 * ms},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestRefreshed(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want bool
	}{
		{"complete", "backupwatch_hosts 3\nbackupwatch_last_refresh_success_timestamp_seconds 1.7e+09\n", true},
		{"never succeeded", "backupwatch_hosts 3\nbackupwatch_last_refresh_success_timestamp_seconds 0\n", false},
		{"fewer hosts", "backupwatch_hosts 2\nbackupwatch_last_refresh_success_timestamp_seconds 1.7e+09\n", false},
		{"a longer count", "backupwatch_hosts 30\nbackupwatch_last_refresh_success_timestamp_seconds 1.7e+09\n", false},
		{"empty", "", false},
	} {
		if got := refreshed([]byte(tc.body), "backupwatch_hosts 3"); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMetricValue(t *testing.T) {
	body := "backupwatch_refreshes_total 3\n# HELP x y\nbackupwatch_refreshes_total_x 9\nbackupwatch_refresh_failures_total 1e+00\nbackup_status{host=\"a\"} 1\n"
	for _, tc := range []struct {
		name string
		want float64
		ok   bool
	}{
		{"backupwatch_refreshes_total", 3, true},
		{"backupwatch_refresh_failures_total", 1, true},
		{"backupwatch_refreshes", 0, false},
		{"backup_status", 0, false},
	} {
		if got, ok := metricValue([]byte(body), tc.name); got != tc.want || ok != tc.ok {
			t.Errorf("metricValue(%s) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
