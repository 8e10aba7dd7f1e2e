package deadman

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestHandler: a heartbeat through the handler counts in its /metrics,
// and the health endpoints answer.
func TestHandler(t *testing.T) {
	r := newRig(t, "am-1")
	h := r.sw.Handler()
	do := func(method, path string) (int, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b)
	}
	if code, _ := do(http.MethodPost, "/heartbeat?sender=am-1"); code/100 != 2 {
		t.Fatalf("POST /heartbeat: %d", code)
	}
	code, body := do(http.MethodGet, "/metrics")
	for _, want := range []string{`backupwatch_deadman_heartbeats_total{sender="am-1"} 1`, "backupwatch_build_info", "go_goroutines"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics: %d, want %q in it", code, want)
		}
	}
	for _, p := range []string{"/-/healthy", "/-/ready"} {
		if code, body := do(http.MethodGet, p); code != http.StatusOK || body != "OK\n" {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
}

func TestCheckEvery(t *testing.T) {
	for _, tc := range []struct{ timeout, want time.Duration }{
		{10 * time.Minute, time.Minute},
		{time.Minute, 6 * time.Second},
		{time.Second, 100 * time.Millisecond},
		{24 * time.Hour, time.Minute},
	} {
		if got := CheckEvery(tc.timeout); got != tc.want {
			t.Errorf("CheckEvery(%v) = %v, want %v", tc.timeout, got, tc.want)
		}
	}
}
