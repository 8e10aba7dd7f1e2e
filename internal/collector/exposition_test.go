package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/golemtrust/backupwatch/internal/localstore"
)

// fetch asks h for /metrics, gzipped or not, and returns the body as sent.
func fetch(t *testing.T, h *Handler, gz bool) (body []byte, contentEncoding string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	if gz {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	return rec.Body.Bytes(), rec.Header().Get("Content-Encoding")
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	zr.Multistream(false) // one member, as every client can read
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip (checks the CRC and length): %v", err)
	}
	if rest, _ := io.ReadAll(zr); len(rest) != 0 {
		t.Errorf("%d bytes after the gzip member", len(rest))
	}
	return out
}

// TestHandlerServesWhatTheCollectorCollects checks that the cached and
// spliced /metrics, plain and gzipped, is exactly what the registry gathers
// from the collector at the same instant, through refreshes and clock moves.
func TestHandlerServesWhatTheCollectorCollects(t *testing.T) {
	dir := t.TempDir()
	for key, doc := range fleetRecords {
		if err := os.WriteFile(filepath.Join(dir, key+".json"), []byte(doc), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	src, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	c := New(Options{Source: src, Expected: []string{"metrics"}, Now: func() time.Time { return now }})
	extra := prometheus.NewRegistry()
	extra.MustRegister(versioncollector.NewCollector("backupwatch"))
	h := NewHandler(c, extra, nil)
	full := prometheus.NewPedanticRegistry()
	full.MustRegister(c, versioncollector.NewCollector("backupwatch"))

	check := func(stage string) {
		t.Helper()
		plain, enc := fetch(t, h, false)
		if enc != "" {
			t.Errorf("%s: Content-Encoding %q without Accept-Encoding", stage, enc)
		}
		zipped, enc := fetch(t, h, true)
		if enc != "gzip" {
			t.Fatalf("%s: Content-Encoding %q, want gzip", stage, enc)
		}
		unzipped := gunzip(t, zipped)
		if !bytes.Equal(plain, unzipped) {
			t.Errorf("%s: gzipped body differs from the plain one", stage)
		}
		if err := testutil.GatherAndCompare(full, bytes.NewReader(plain)); err != nil {
			t.Errorf("%s: /metrics differs from what the collector gathers:\n%v", stage, err)
		}
		gzipTool(t, zipped)
	}
	check("before the first refresh")
	c.Refresh(context.Background())
	check("after a refresh")
	now = now.Add(90 * time.Minute)
	check("ninety minutes later, same snapshot")
	if err := os.WriteFile(filepath.Join(dir, "db.json"), []byte(`{"status":"success","last_success":"2026-11-25T13:00:00Z"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "restore-test.json"))
	c.Refresh(context.Background())
	check("after a refresh that changed db and removed the restore test")
	body, _ := fetch(t, h, false)
	if !bytes.Contains(body, []byte(`backup_status{host="db",status="success"} 1`)) {
		t.Errorf("the new snapshot is not served")
	}
}

// gzipTool checks the body with Debian's gzip, another implementation.
func gzipTool(t *testing.T, zipped []byte) {
	t.Helper()
	cmd := exec.Command("gzip", "-t")
	cmd.Stdin = bytes.NewReader(zipped)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("gzip -t: %v\n%s", err, out)
	}
}
