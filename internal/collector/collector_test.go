package collector

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testNow is the scrape time of the golden files.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fleetRecords are records as the runbook, other tools and careless hands
// write them, keyed by host. Every malformed one must leave the rest of the
// fleet exported correctly and be counted in backupwatch_record_problems.
var fleetRecords = map[string]string{
	// Clean records.
	"auth": `{"status":"success","last_success":"2026-11-25T02:00:00+00:00","last_failure":"2026-11-20T02:00:00+00:00",
		"last_attempt":"2026-11-25T01:40:00+00:00","exit_code":"0","duration_seconds":"1200.500","consecutive_failures":"0",
		"snapshot_id":"4b1c2d3e","bytes_added":"1048576","files_new":"12","files_changed":"3","files_unmodified":"40000"}`,
	"db":        `{"status":"failed","last_success":"2026-11-24T06:00:00+00:00","last_failure":"2026-11-25T02:00:00+00:00","consecutive_failures":"3","exit_code":"1"}`,
	"graylog-1": `{"status":"success","last_success":"2026-11-23T10:00:00+00:00"}`, // 50 h: red
	"graylog-2": `{"status":"success","last_success":"2026-11-24T07:00:00Z"}`,      // 29 h: amber
	// The runbook's own writer: only its three fields.
	"vault-1": `{"status":"success","last_success":"2026-11-25T06:00:00+01:00","last_failure":""}`,

	// Malformed in every way.
	"missing-fields":    `{}`,
	"empty-strings":     `{"status":"","last_success":"","last_failure":"","exit_code":"","snapshot_id":""}`,
	"other-time-format": `{"status":"ok","last_success":"2026-11-25 10:00:00","last_failure":"1795550400","last_attempt":"Wed, 25 Nov 2026 09:00:00 +0000"}`,
	"not-a-time":        `{"status":"success","last_success":"yesterday","last_failure":"2026-13-45T99:00:00Z"}`,
	"unknown-status":    `{"status":"PARTIAL","last_success":"2026-11-25T00:00:00+00:00"}`,
	"numbers-as-json":   `{"status":"failed","last_failure":1795600000,"exit_code":2,"duration_seconds":12.5,"consecutive_failures":7,"bytes_added":true}`,
	"huge-values":       `{"status":"success","last_success":"9999-12-31T23:59:59Z","exit_code":"99999999999999999999","duration_seconds":"1e400","bytes_added":"-5e300","files_new":"1.5"}`,
	"wrong-types":       `{"status":["success"],"last_success":{"at":"2026-11-25"},"message":null}`,
	"hostile-values":    `{"status":"success\"} 1\nbackup_status{host=\"x","last_success":"2026-11-25T11:00:00+00:00","snapshot_id":"<script>alert(\"x\")</script>","message":"<img src=x onerror=alert(1)>"}`,
	// A host name no DNS would accept, with what a label must escape (the
	// local store refuses a backslash in a key; the Vault test has one).
	"quote\"newline\n<b>": `{"status":"success","last_success":"2026-11-25T11:00:00+00:00"}`,

	"restore-test": `{"last_test":"2026-10-01T09:00:00+00:00","result":"passed","host_tested":"db.golemtrust.am",
		"time_to_restore_minutes":"47","notes":"Merchants Guild database restored successfully to staging"}`,
}

// writeStore writes records into a fresh local store, one file per key as
// localstore keeps them, and returns it.
func writeStore(t *testing.T, records map[string]string) *localstore.Store {
	t.Helper()
	dir := t.TempDir()
	for key, doc := range records {
		if err := os.WriteFile(filepath.Join(dir, key+".json"), []byte(doc), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	st, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newTestCollector(src *localstore.Store, expected ...string) *Collector {
	return New(Options{Source: src, Expected: expected, Now: func() time.Time { return testNow }})
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, c prometheus.Collector) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if err := testutil.CollectAndCompare(c, bytes.NewReader(want)); err != nil {
		t.Errorf("metrics differ from %s:\n%v", path, err)
	}
}

func TestCollectFleet(t *testing.T) {
	c := newTestCollector(writeStore(t, fleetRecords), "metrics", "auth")
	snap := c.Refresh(context.Background())
	if snap.Err != nil {
		t.Fatalf("refresh: %v", snap.Err)
	}
	golden(t, "fleet.prom", c)

	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestRecordProblems checks, host by host, that a malformed record is
// reported and that what it does hold is still exported.
func TestRecordProblems(t *testing.T) {
	c := newTestCollector(writeStore(t, fleetRecords), "metrics")
	c.Refresh(context.Background())
	tests := []struct {
		host         string
		wantProblems bool
		wantStatus   string
		wantAge      float64
	}{
		{"auth", false, "success", 10 * 3600},
		{"db", false, "failed", 30 * 3600},
		{"vault-1", false, "success", 7 * 3600},
		{"metrics", true, "unknown", float64(testNow.Unix())},
		{"missing-fields", true, "unknown", float64(testNow.Unix())},
		{"empty-strings", true, "unknown", float64(testNow.Unix())},
		{"other-time-format", false, "success", 2 * 3600},
		{"not-a-time", true, "success", float64(testNow.Unix())},
		{"unknown-status", true, "unknown", 12 * 3600},
		{"numbers-as-json", true, "failed", float64(testNow.Unix())},
		{"huge-values", true, "success", float64(testNow.Unix())},
		{"wrong-types", true, "unknown", float64(testNow.Unix())},
		{"hostile-values", true, "unknown", 3600},
		{"quote\"newline\n<b>", true, "success", 3600},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := value(t, c, "backupwatch_record_problems", "host", tt.host); (got > 0) != tt.wantProblems {
				t.Errorf("backupwatch_record_problems = %v, want problems: %v", got, tt.wantProblems)
			}
			for _, s := range []string{"success", "failed", "unknown"} {
				want := 0.0
				if s == tt.wantStatus {
					want = 1
				}
				if got := value(t, c, "backup_status", "host", tt.host, "status", s); got != want {
					t.Errorf("backup_status{status=%q} = %v, want %v", s, got, want)
				}
			}
			if got := value(t, c, "backup_last_success_age_seconds", "host", tt.host); got != tt.wantAge {
				t.Errorf("backup_last_success_age_seconds = %v, want %v", got, tt.wantAge)
			}
		})
	}
}

// value returns the value of the one series of name with the given label
// pairs among what c collects, failing the test when there is none.
func value(t *testing.T, c prometheus.Collector, name string, labelPairs ...string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
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
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%q", name, labelPairs)
	return 0
}

// TestNoRecordsYet is the first start: no store content, expected hosts
// only. The runbook's answers: unknown, and an age since the epoch.
func TestNoRecordsYet(t *testing.T) {
	c := newTestCollector(writeStore(t, nil), "db", "auth", "db")
	c.Refresh(context.Background())
	golden(t, "empty.prom", c)
}

// TestAgesMoveAtScrapeTime checks that ages come from the scrape's clock,
// not the refresh's, so a stale cache never freezes an age.
func TestAgesMoveAtScrapeTime(t *testing.T) {
	now := testNow
	c := New(Options{Source: writeStore(t, fleetRecords), Now: func() time.Time { return now }})
	c.Refresh(context.Background())
	before := value(t, c, "backup_last_success_age_seconds", "host", "auth")
	restoreBefore := value(t, c, "backup_restore_test_age_seconds")
	now = now.Add(time.Hour)
	if got, want := value(t, c, "backup_last_success_age_seconds", "host", "auth"), before+3600; got != want {
		t.Errorf("age an hour later = %v, want %v", got, want)
	}
	if got, want := value(t, c, "backup_restore_test_age_seconds"), restoreBefore+3600; got != want {
		t.Errorf("restore test age an hour later = %v, want %v", got, want)
	}
}

// TestFutureTimes is issue 16's item 9: the exporter's future bound is
// record's (status.ClockSkew). Within it a fast clock gives a small
// negative age; beyond it a time is neither dropped nor trusted: it is
// taken as when the exporter first read it, its age grows from there (a
// success written 23 hours ahead no longer silences the overdue alert for
// two days), and backup_clock_ahead_seconds names the host.
func TestFutureTimes(t *testing.T) {
	tests := []struct {
		name      string
		ahead     time.Duration
		wantAge   float64 // at the first refresh
		wantAhead float64
	}{
		{"four minutes ahead", 4 * time.Minute, -240, 0},
		{"at the skew limit", status.ClockSkew, -status.ClockSkew.Seconds(), 0},
		{"beyond the skew limit", status.ClockSkew + time.Second, 0, 301},
		{"23 hours ahead", 23 * time.Hour, 0, 23 * 3600},
		{"years ahead", testNow.AddDate(10, 0, 0).Sub(testNow), 0, testNow.AddDate(10, 0, 0).Sub(testNow).Seconds()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := testNow.Add(tt.ahead).Format(time.RFC3339)
			now := testNow
			c := New(Options{Source: writeStore(t, map[string]string{
				"db":           `{"status":"failed","last_success":"` + at + `","last_failure":"` + at + `"}`,
				"restore-test": `{"last_test":"` + at + `","result":"passed"}`,
			}), Now: func() time.Time { return now }})
			c.Refresh(context.Background())
			if got := value(t, c, "backup_last_success_age_seconds", "host", "db"); got != tt.wantAge {
				t.Errorf("backup_last_success_age_seconds = %v, want %v", got, tt.wantAge)
			}
			if got := value(t, c, "backup_restore_test_age_seconds"); got != tt.wantAge {
				t.Errorf("backup_restore_test_age_seconds = %v, want %v", got, tt.wantAge)
			}
			if got := value(t, c, "backup_clock_ahead_seconds", "host", "db"); got != tt.wantAhead {
				t.Errorf("backup_clock_ahead_seconds = %v, want %v", got, tt.wantAhead)
			}
			if got := value(t, c, "backup_status", "host", "db", "status", "failed"); got != 1 {
				t.Errorf("the failure of a host whose clock runs fast is not exported: backup_status{failed} = %v", got)
			}
			if tt.wantAhead == 0 {
				return
			}
			// A day later, the clock has caught up with a time 23 hours
			// ahead: its age is still counted from when it was first read.
			now = testNow.Add(25 * time.Hour)
			c.Refresh(context.Background())
			if got, want := value(t, c, "backup_last_success_age_seconds", "host", "db"), 25*3600.0; got != want {
				t.Errorf("age 25 hours later = %v, want %v", got, want)
			}
			if got := value(t, c, "backup_clock_ahead_seconds", "host", "db"); got != tt.wantAhead {
				t.Errorf("backup_clock_ahead_seconds 25 hours later = %v, want %v", got, tt.wantAhead)
			}
		})
	}
}

// mapSource is a store of records in memory, for keys no real store in a
// test can hold (the local store and Vault's file storage refuse names
// longer than a file name).
type mapSource map[string]map[string]any

func (m mapSource) List(context.Context) ([]string, error) {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys, nil
}

func (m mapSource) Get(_ context.Context, key string) (map[string]any, error) {
	return m[key], nil
}

// ctxSource fails as a network store does once its context is done.
type ctxSource struct{ mapSource }

func (s ctxSource) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.mapSource.List(ctx)
}

// TestRefreshStopped: a refresh cut short because the exporter is stopping
// is not a store failure: no failure counted, the last snapshot kept.
func TestRefreshStopped(t *testing.T) {
	src := ctxSource{mapSource{"db": {"status": "success", "last_success": "2026-11-25T11:00:00+00:00"}}}
	c := New(Options{Source: src, Now: func() time.Time { return testNow }})
	good := c.Refresh(context.Background())
	if good.Err != nil {
		t.Fatal(good.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if snap := c.Refresh(ctx); snap.Err == nil {
		t.Errorf("refresh with its context done: no error, want one (textfile must not write)")
	}
	st := c.State()
	if st.Snapshot != good || st.Failures != 0 || !st.StoreUp() {
		t.Errorf("after a stopped refresh: snapshot kept %v, failures %d, store up %v; want true, 0, true", st.Snapshot == good, st.Failures, st.StoreUp())
	}
}

// TestLongHostKeys: keys far longer than a host name, or not UTF-8, get a
// bounded, valid host label, still one per key, and are reported as record
// problems.
func TestLongHostKeys(t *testing.T) {
	long := strings.Repeat("h", 30000)
	rec := map[string]any{"status": "success", "last_success": "2026-11-25T11:00:00+00:00"}
	src := mapSource{"db": rec, long + "a": rec, long + "b": rec, strings.Repeat("x", maxHostLabel): rec,
		"bad\xff": rec, "bad\xfe": rec} // both invalid UTF-8: one "bad\uFFFD" label would be a duplicate
	c := New(Options{Source: src, Now: func() time.Time { return testNow }})
	if snap := c.Refresh(context.Background()); snap.Err != nil {
		t.Fatal(snap.Err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	hosts := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() != "host" {
					continue
				}
				if len(lp.GetValue()) > maxHostLabel {
					t.Errorf("%s: host label of %d bytes, want at most %d", mf.GetName(), len(lp.GetValue()), maxHostLabel)
				}
				if mf.GetName() == "backup_status" && lp.GetValue() != "db" && m.GetGauge().GetValue() == 1 {
					hosts[lp.GetValue()] = true
					if got := value(t, c, "backupwatch_record_problems", "host", lp.GetValue()); got < 1 {
						t.Errorf("host %.20q...: %v record problems, want at least 1", lp.GetValue(), got)
					}
				}
			}
		}
	}
	if len(hosts) != 5 {
		t.Errorf("got %d distinct labels for the 5 other hosts, want 5", len(hosts))
	}
	if _, ok := hosts[strings.Repeat("x", maxHostLabel)]; !ok {
		t.Errorf("a %d-byte host name is not exported as it is", maxHostLabel)
	}
}

func TestRestoreTest(t *testing.T) {
	tests := []struct {
		name   string
		record string // "" for no restore-test record at all
		want   string // golden lines of the restore test metrics
	}{
		{"none", "", `
backup_restore_test_age_seconds 1.795608e+09
`},
		{"failed", `{"last_test":"2026-11-24T12:00:00+00:00","result":"failed","host_tested":"db","time_to_restore_minutes":"1.5"}`, `
backup_restore_test_age_seconds 86400
backup_restore_test_info{host_tested="db"} 1
backup_restore_test_passed 0
backup_restore_test_result{result="failed"} 1
backup_restore_test_result{result="passed"} 0
backup_restore_test_result{result="unknown"} 0
backup_restore_test_time_to_restore_seconds 90
backup_restore_test_timestamp_seconds 1.7955216e+09
`},
		{"garbage", `{"last_test":"last tuesday","result":"mostly"}`, `
backup_restore_test_age_seconds 1.795608e+09
backup_restore_test_passed 0
backup_restore_test_result{result="failed"} 0
backup_restore_test_result{result="passed"} 0
backup_restore_test_result{result="unknown"} 1
`},
	}
	names := []string{
		"backup_restore_test_age_seconds", "backup_restore_test_info", "backup_restore_test_passed",
		"backup_restore_test_result", "backup_restore_test_time_to_restore_seconds", "backup_restore_test_timestamp_seconds",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			records := map[string]string{"db": `{"status":"success","last_success":"2026-11-25T00:00:00Z"}`}
			if tt.record != "" {
				records["restore-test"] = tt.record
			}
			c := newTestCollector(writeStore(t, records))
			c.Refresh(context.Background())
			if err := testutil.CollectAndCompare(c, strings.NewReader(withHelp(tt.want)), names...); err != nil {
				t.Error(err)
			}
		})
	}
}

// withHelp adds the HELP and TYPE lines of the families in text, so table
// entries can list bare samples.
func withHelp(text string) string {
	helps := map[string]string{}
	ch := make(chan *prometheus.Desc, len(allDescs))
	(&Collector{}).Describe(ch)
	close(ch)
	for d := range ch {
		s := d.String() // Desc{fqName: "x", help: "y", ...}
		name := between(s, `fqName: "`, `"`)
		helps[name] = between(s, `help: "`, `", `)
	}
	var out strings.Builder
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		if !seen[name] {
			seen[name] = true
			out.WriteString("# HELP " + name + " " + helps[name] + "\n# TYPE " + name + " gauge\n")
		}
		out.WriteString(line + "\n")
	}
	return out.String()
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

// BenchmarkScrape measures a /metrics answer at 10,000 hosts with every
// field recorded, from the cache, gzipped (as Prometheus asks) and plain.
func BenchmarkScrape(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 10000; i++ {
		doc := fmt.Sprintf(`{"status":"success","last_success":"2026-11-25T02:00:00+00:00","last_failure":"2026-11-20T02:00:00+00:00",
			"last_attempt":"2026-11-25T01:40:00+00:00","exit_code":"0","duration_seconds":"1200.5","consecutive_failures":"0",
			"snapshot_id":"%08x","bytes_added":"1048576","files_new":"12","files_changed":"3","files_unmodified":"40000"}`, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("host-%05d.json", i)), []byte(doc), 0o640); err != nil {
			b.Fatal(err)
		}
	}
	st, err := localstore.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	c := New(Options{Source: st})
	h := NewHandler(c, nil, nil)
	if snap := c.Refresh(context.Background()); snap.Err != nil || snap.Hosts.Len() != 10000 {
		b.Fatalf("refresh: %v, %d hosts", snap.Err, snap.Hosts.Len())
	}
	for _, gz := range []bool{true, false} {
		b.Run(fmt.Sprintf("gzip=%v", gz), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", "/metrics", nil)
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
				b.SetBytes(int64(rec.Body.Len()))
			}
		})
	}
}
