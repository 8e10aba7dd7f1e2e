package exporter

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

// newTestExporter is an exporter of a local store holding db's jobs a to
// d, with a limit of three jobs per host.
func newTestExporter(t *testing.T) (*Exporter, *collector.Collector) {
	t.Helper()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := status.FormatTime(time.Now())
	for _, job := range []string{"a", "b", "c", "d"} {
		err := st.Update(context.Background(), status.Key("db", job), func(map[string]any) (map[string]any, bool, error) {
			return map[string]any{status.FieldStatus: status.Success, status.FieldLastSuccess: now}, true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	c := collector.New(collector.Options{Source: st, Workers: 1, Timeout: time.Minute, Logger: logger, StoreName: st.String()})
	checks, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := collector.NewWitness(collector.WitnessOptions{Repositories: checks, RestoreTests: checks, Timeout: time.Minute, Logger: logger})
	e, err := New(Options{
		Collector: c, Witness: w, Store: st, JobsLimit: 3, Logger: logger,
		Settings: Settings{Interval: time.Minute, MaxRequests: 1, MaxPageRenders: 1, MaxWait: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

// TestHandler: the exporter's endpoints answer as serve's do, ready only
// after the first refresh, and /metrics counts the jobs over the limit.
func TestHandler(t *testing.T) {
	e, c := newTestExporter(t)
	h := e.Handler()
	if code, body := get(t, h, "/-/healthy"); code != http.StatusOK || body != "Healthy.\n" {
		t.Errorf("/-/healthy: %d %q", code, body)
	}
	if code, _ := get(t, h, "/-/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready before the first refresh: %d, want 503", code)
	}
	c.Refresh(context.Background())
	if code, body := get(t, h, "/-/ready"); code != http.StatusOK || body != "Ready.\n" {
		t.Errorf("/-/ready after a refresh: %d %q", code, body)
	}
	code, body := get(t, h, "/metrics")
	for _, want := range []string{"backupwatch_jobs_limit 3", `backupwatch_jobs_over_limit{host="db"} 1`, `backupwatch_http_max_requests_in_flight{handler="page"} 1`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics: %d, want %q in:\n%s", code, want, status.Truncate(body, 2000))
		}
	}
	if code, body := get(t, h, "/"); code != http.StatusOK || !strings.Contains(body, "db") {
		t.Errorf("/: %d, want the page naming db", code)
	}
}

func TestValidateExternalURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"https://backupwatch.example.org/", true},
		{"http://10.0.0.1:10036", true},
		{"backupwatch.example.org", false},
		{"ftp://example.org/", false},
		{"https://user:secret@example.org/", false},
		{"https://example.org/?a=b", false},
		{"https://example.org/#x", false},
		{"https://example.org/" + strings.Repeat("a", 600), false},
	} {
		err := ValidateExternalURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateExternalURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestTimings(t *testing.T) {
	if got := RefreshTimeout(time.Second); got != 30*time.Second {
		t.Errorf("RefreshTimeout(1s) = %v, want 30s", got)
	}
	if got := RefreshTimeout(time.Hour); got != time.Hour {
		t.Errorf("RefreshTimeout(1h) = %v, want 1h", got)
	}
	if got := SwitchReadEvery(time.Hour); got != time.Minute {
		t.Errorf("SwitchReadEvery(1h) = %v, want 1m", got)
	}
}

// TestWriteTextfile: the file holds the collector's metrics and the build
// info, without Go or process metrics (node_exporter has its own).
func TestWriteTextfile(t *testing.T) {
	_, c := newTestExporter(t)
	c.Refresh(context.Background())
	p := filepath.Join(t.TempDir(), "backup.prom")
	if err := WriteTextfile(p, c, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{`backup_status{backup_job="d",host="db",status="success"} 1`, "backupwatch_build_info"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, status.Truncate(got, 2000))
		}
	}
	if strings.Contains(got, "go_goroutines") || strings.Contains(got, "process_") {
		t.Errorf("Go or process metrics in the textfile")
	}
}
