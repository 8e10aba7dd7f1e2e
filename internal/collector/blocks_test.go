package collector

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

func TestCRC32Combine(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"", ""}, {"a", ""}, {"", "b"}, {"backup_status", `{host="db"} 1` + "\n"},
		{string(bytes.Repeat([]byte("x"), 100000)), string(bytes.Repeat([]byte("yz"), 77777))},
	} {
		want := crc32.ChecksumIEEE([]byte(tc.a + tc.b))
		got := crc32Combine(crc32.ChecksumIEEE([]byte(tc.a)), crc32.ChecksumIEEE([]byte(tc.b)), int64(len(tc.b)))
		if got != want {
			t.Errorf("combine(%d bytes, %d bytes) = %08x, want %08x", len(tc.a), len(tc.b), got, want)
		}
	}
}

// TestNudgeEncodesItsHostsBlock: a nudge encodes again the block of the
// host it changed, not the fleet (issue 23: at 100,000 hosts that took
// some ten seconds per nudge), and /metrics is still exactly what the
// collector gathers, a new host and a new job included.
func TestNudgeEncodesItsHostsBlock(t *testing.T) {
	const n = 5 * hostsPerBlock
	dir := t.TempDir()
	write := func(key, doc string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, key)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, key+".json"), []byte(doc), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		write(fmt.Sprintf("host-%05d", i), `{"status":"success","last_success":"2026-11-25T02:00:00+00:00"}`)
	}
	src, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	c := New(Options{Source: src, Expected: []string{"host-00007"}, Now: func() time.Time { return now }})
	h := NewHandler(c, nil, nil)
	c.Refresh(context.Background())
	full := prometheus.NewPedanticRegistry()
	full.MustRegister(c)
	check := func(stage string) {
		t.Helper()
		for _, gz := range []bool{false, true} {
			body, _ := fetch(t, h, gz)
			if gz {
				body = gunzip(t, body)
			}
			if err := testutil.GatherAndCompare(full, bytes.NewReader(body)); err != nil {
				t.Errorf("%s, gzip=%v: /metrics differs from what the collector gathers:\n%v", stage, gz, err)
			}
		}
	}
	check("after the refresh")
	if h.encodedBlocks < 5 {
		t.Fatalf("%d blocks encoded for %d hosts, want at least 5", h.encodedBlocks, n)
	}

	for _, tc := range []struct {
		stage  string
		key    string
		doc    string
		id     status.JobID
		blocks int
	}{
		{"a host's failure", "host-00300", `{"status":"failed","last_success":"2026-11-25T02:00:00+00:00","exit_code":"3"}`, status.JobID{Host: "host-00300"}, 1},
		{"a new host", "host-00300a", `{"status":"failed","exit_code":"1"}`, status.JobID{Host: "host-00300a"}, 1},
		{"a new job", "jobs/host-01000@db", `{"status":"failed","exit_code":"1"}`, status.JobID{Host: "host-01000", Job: "db"}, 1},
	} {
		write(tc.key, tc.doc)
		before := h.encodedBlocks
		c.reread(context.Background(), []status.JobID{tc.id})
		check(tc.stage)
		if got := h.encodedBlocks - before; got != tc.blocks {
			t.Errorf("%s: %d blocks encoded again, want %d", tc.stage, got, tc.blocks)
		}
	}
	body, _ := fetch(t, h, false)
	for _, want := range []string{`backup_status{host="host-00300",status="failed"} 1`, `backup_status{host="host-00300a",status="failed"} 1`, `backup_status{backup_job="db",host="host-01000",status="failed"} 1`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("no line %s", want)
		}
	}
}

// TestHostSeriesAlerting: --metrics.host-series=alerting leaves out the
// families no shipped rule reads, for hosts and jobs alike, keeps the
// runbook's, and the handler serves exactly what the collector gathers.
func TestHostSeriesAlerting(t *testing.T) {
	src := writeStore(t, map[string]string{
		"db": `{"status":"failed","exit_code":"3","consecutive_failures":"2","last_failure":"2026-11-25T02:00:00+00:00","bytes_added":"10","files_new":"1"}`,
	})
	if err := os.MkdirAll(filepath.Join(src.Dir(), "jobs"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src.Dir(), "jobs", "db@x.json"), []byte(`{"status":"failed","exit_code":"3","consecutive_failures":"2"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	c := New(Options{Source: src, HostSeries: HostSeriesAlerting, Now: func() time.Time { return testNow }})
	h := NewHandler(c, nil, nil)
	c.Refresh(context.Background())
	body, _ := fetch(t, h, false)
	full := prometheus.NewPedanticRegistry()
	full.MustRegister(c)
	if err := testutil.GatherAndCompare(full, bytes.NewReader(body)); err != nil {
		t.Errorf("/metrics differs from what the collector gathers:\n%v", err)
	}
	for _, name := range AlertingDropped() {
		if bytes.Contains(body, []byte("\n"+name+"{")) {
			t.Errorf("%s exported with host-series=alerting", name)
		}
	}
	for _, want := range []string{`backup_status{host="db",status="failed"} 1`, `backup_status{backup_job="x",host="db",status="failed"} 1`, `backup_last_success_age_seconds{host="db"}`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("no %s with host-series=alerting", want)
		}
	}
	if err := ValidHostSeries("some"); err == nil {
		t.Errorf("ValidHostSeries accepts %q", "some")
	}
}
