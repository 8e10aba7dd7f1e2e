package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/golemtrust/backupwatch/internal/inflight"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
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

// TestHandlerLargeFleet checks the batched encoding where it matters:
// families of several batches (1,200 hosts, backup_status three series
// each) read as one family each, exactly what the registry gathers.
func TestHandlerLargeFleet(t *testing.T) {
	records := map[string]string{}
	for i := range 1200 {
		records[fmt.Sprintf("host-%04d", i)] = fmt.Sprintf(`{"status":"failed","last_success":"2026-11-25T02:00:00+00:00","exit_code":"%d","snapshot_id":"%08x","files_new":"%d"}`, i%7, i, i)
	}
	now := testNow
	c := New(Options{Source: writeStore(t, records), Now: func() time.Time { return now }})
	h := NewHandler(c, nil, nil)
	c.Refresh(context.Background())
	full := prometheus.NewPedanticRegistry()
	full.MustRegister(c)
	for _, gz := range []bool{false, true} {
		body, _ := fetch(t, h, gz)
		if gz {
			body = gunzip(t, body)
		}
		if n := bytes.Count(body, []byte("# TYPE backup_status gauge\n")); n != 1 {
			t.Errorf("gzip=%v: %d TYPE lines for backup_status, want 1", gz, n)
		}
		if n := bytes.Count(body, []byte(`backup_status{host="host-`)); n != 3*1200 {
			t.Errorf("gzip=%v: %d backup_status series, want %d", gz, n, 3*1200)
		}
		if err := testutil.GatherAndCompare(full, bytes.NewReader(body)); err != nil {
			t.Errorf("gzip=%v: /metrics differs from what the collector gathers:\n%v", gz, err)
		}
	}
}

// stuckWriter is a client that stops reading: its first Write blocks until
// released.
type stuckWriter struct {
	header  http.Header
	code    int
	writing chan struct{} // closed when the handler first writes
	once    sync.Once
	release chan struct{}
	body    bytes.Buffer
}

func newStuckWriter(release chan struct{}) *stuckWriter {
	return &stuckWriter{header: http.Header{}, code: 200, writing: make(chan struct{}), release: release}
}

func (s *stuckWriter) Header() http.Header  { return s.header }
func (s *stuckWriter) WriteHeader(code int) { s.code = code }
func (s *stuckWriter) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.writing) })
	<-s.release
	return s.body.Write(p)
}

func within[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("%s: nothing after a minute (blocked)", what)
		panic("unreachable")
	}
}

// TestRefreshNotStarvedByScrapes: with every scrape turn taken by clients
// that stopped reading and more scrapes waiting, a refresh of the real
// store still completes and is encoded; one scrape more is refused with 503
// and Retry-After; once the clients read again, the waiting scrapes get
// the new snapshot.
func TestRefreshNotStarvedByScrapes(t *testing.T) {
	const slots, queue = 2, 2
	st := writeStore(t, fleetRecords)
	c := New(Options{Source: st, Now: func() time.Time { return testNow }})
	h := NewHandler(c, nil, nil)
	l := inflight.New(inflight.Options{Name: "metrics", Max: slots, Queue: queue, MaxWait: time.Hour})
	scrapes := l.Wrap(h)
	c.Refresh(context.Background())

	gzipped := func() *http.Request {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.Header.Set("Accept-Encoding", "gzip")
		return r
	}
	release := make(chan struct{})
	done := make(chan *stuckWriter, slots+queue)
	var stuck []*stuckWriter
	for range slots {
		w := newStuckWriter(release)
		stuck = append(stuck, w)
		go func() { scrapes.ServeHTTP(w, gzipped()); done <- w }()
		within(t, "a scrape writing", w.writing)
	}
	waiting := make(chan *httptest.ResponseRecorder, queue)
	for range queue {
		go func() {
			rec := httptest.NewRecorder()
			scrapes.ServeHTTP(rec, gzipped())
			waiting <- rec
		}()
	}
	for l.Waiting() < queue {
		time.Sleep(time.Millisecond)
	}

	refused := httptest.NewRecorder()
	scrapes.ServeHTTP(refused, gzipped())
	if refused.Code != http.StatusServiceUnavailable || refused.Header().Get("Retry-After") == "" {
		t.Errorf("scrape beyond the queue: %d, Retry-After %q; want 503 with Retry-After", refused.Code, refused.Header().Get("Retry-After"))
	}

	if err := st.Update(context.Background(), "db", func(map[string]any) (map[string]any, bool, error) {
		return map[string]any{"status": "success", "last_success": "2026-11-25T11:30:00+00:00"}, true, nil
	}); err != nil {
		t.Fatal(err)
	}
	refreshed := make(chan struct{})
	go func() {
		c.Refresh(context.Background())
		close(refreshed)
	}()
	within(t, "the refresh, with every scrape turn taken", refreshed)

	close(release)
	for range slots {
		w := within(t, "a stuck scrape finishing", done)
		if w.code != 200 || !bytes.Contains(gunzip(t, w.body.Bytes()), []byte(`backup_status{host="db",status="failed"} 1`)) {
			t.Errorf("stuck scrape: %d, want 200 with the snapshot it started with", w.code)
		}
	}
	for range queue {
		rec := within(t, "a waiting scrape served", waiting)
		if rec.Code != 200 || !bytes.Contains(gunzip(t, rec.Body.Bytes()), []byte(`backup_status{host="db",status="success"} 1`)) {
			t.Errorf("waiting scrape: %d, want 200 with the refreshed snapshot", rec.Code)
		}
	}
}

// TestHandlerAgesFollowTheClock: the ages, encoded once per snapshot
// without their values, are computed at each scrape exactly as the
// collector computes them, also for a time that is too far in the future
// at the refresh and established later (it counts as the epoch, then not).
func TestHandlerAgesFollowTheClock(t *testing.T) {
	future := testNow.Add(status.MaxFutureSkew + time.Hour).Format(time.RFC3339)
	st := writeStore(t, map[string]string{
		"ahead":        `{"status":"success","last_success":"` + future + `"}`,
		"db":           `{"status":"success","last_success":"2026-11-25T02:00:00+00:00"}`,
		"never":        `{"status":"failed"}`,
		"restore-test": `{"last_test":"2026-10-01T09:00:00+00:00","result":"passed"}`,
	})
	now := testNow
	c := New(Options{Source: st, Now: func() time.Time { return now }})
	h := NewHandler(c, nil, nil)
	c.Refresh(context.Background())
	full := prometheus.NewPedanticRegistry()
	full.MustRegister(c)
	for _, later := range []time.Duration{0, time.Minute, 90 * time.Minute, 400 * 24 * time.Hour} {
		now = testNow.Add(later)
		for _, gz := range []bool{false, true} {
			body, _ := fetch(t, h, gz)
			if gz {
				body = gunzip(t, body)
			}
			if err := testutil.GatherAndCompare(full, bytes.NewReader(body)); err != nil {
				t.Errorf("%v later, gzip=%v: /metrics differs from the collector:\n%v", later, gz, err)
			}
		}
	}
}
