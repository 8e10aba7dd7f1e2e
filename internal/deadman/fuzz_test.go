package deadman

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzHeartbeat: whatever a request holds, /heartbeat answers one of its
// statuses, counts at most one heartbeat, and only for a known sender.
func FuzzHeartbeat(f *testing.F) {
	f.Add("POST", "", "application/json", amPayload("http://am-1:9093", "firing"))
	f.Add("POST", "sender=cron", "", "")
	f.Add("GET", "sender=http://am-1:9093/", "", "")
	f.Add("POST", "", "application/json", `{"externalURL":"http://am-1:9093","status":"resolved"}`)
	f.Add("POST", "", "", `{"externalURL":[[[[`)
	f.Add("PUT", "sender=%00", "text/plain; charset=\x00", "\xff\xfe")
	f.Fuzz(func(t *testing.T, method, query, ctype, body string) {
		clk := &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
		sw, err := New(Options{Senders: []string{"http://am-1:9093", "cron"}, Timeout: time.Minute, Reminder: time.Hour, Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(method, "/heartbeat?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		sw.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 403, 405, 413:
		default:
			t.Errorf("status %d", rec.Code)
		}
		total := 0.0
		snap, _ := sw.Snapshot()
		for _, st := range snap {
			total += st.Count
			if st.Name != "http://am-1:9093" && st.Name != "cron" {
				t.Errorf("an unknown sender is kept: %q", st.Name)
			}
		}
		if total > 1 || (total == 1) != (rec.Code == 200 && rec.Body.String() == "ok\n") {
			t.Errorf("%v heartbeats counted, answer %d %q", total, rec.Code, rec.Body.String())
		}
	})
}
