package main

import (
	"strings"
	"testing"
)

// TestServeLimits: serve bounds scrapes and page renders with the limits
// given (exported, so a dashboard can show how close they are) and
// refuses limits that make no sense before anything starts.
func TestServeLimits(t *testing.T) {
	e := startExporter(t, []string{"--store.dir=" + t.TempDir()}, "--web.max-requests=3", "--web.max-page-renders=1", "--host=db")
	s := e.waitFor(t, "a first refresh", storeUp(1))
	for _, tt := range []struct {
		handler string
		want    float64
	}{{"metrics", 3}, {"page", 1}} {
		if v, ok := s.value("backupwatch_http_max_requests_in_flight", "handler", tt.handler); !ok || v != tt.want {
			t.Errorf("backupwatch_http_max_requests_in_flight{handler=%q} = %v, %v; want %v", tt.handler, v, ok, tt.want)
		}
		if v, ok := s.value("backupwatch_http_requests_refused_total", "handler", tt.handler, "reason", "queue_full"); !ok || v != 0 {
			t.Errorf("backupwatch_http_requests_refused_total{handler=%q,reason=\"queue_full\"} = %v, %v; want 0", tt.handler, v, ok)
		}
	}
	// The scrape being answered is in flight itself.
	if v, ok := s.value("backupwatch_http_requests_in_flight", "handler", "metrics"); !ok || v != 1 {
		t.Errorf("backupwatch_http_requests_in_flight{handler=\"metrics\"} = %v, %v; want 1", v, ok)
	}
	if code, body := e.get(t, "/"); code != 200 || !strings.Contains(body, "db") {
		t.Errorf("status page through its limiter: %d", code)
	}
	e.stop(t)

	tests := []struct{ flag, want string }{
		{"--web.max-requests=0", "--web.max-requests must be between 1 and 1024"},
		{"--web.max-requests=5000", "--web.max-requests must be between 1 and 1024"},
		{"--web.max-page-renders=0", "--web.max-page-renders must be between 1 and 1024"},
		{"--web.max-wait=0s", "--web.max-wait must be above 0s"},
		{"--web.max-wait=1h", "--web.max-wait must be above 0s and at most 10m"},
	}
	for _, tt := range tests {
		for _, cmd := range []string{"serve", "check"} {
			code, _, errOut := cli(t, "--store.dir="+t.TempDir(), cmd, "--web.listen-address=127.0.0.1:0", tt.flag)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("%s %s: exit %d, stderr %q; want exit %d and %q", cmd, tt.flag, code, errOut, exitUsage, tt.want)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
				t.Errorf("%s %s: error is %d lines, want one: %q", cmd, tt.flag, n+1, errOut)
			}
		}
	}
}
