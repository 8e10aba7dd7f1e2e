package deadman

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// amPayload is Alertmanager's webhook JSON for the Watchdog, as a member
// with externalURL sends it.
func amPayload(externalURL, status string) string {
	return fmt.Sprintf(`{"receiver":"heartbeat","status":%q,"alerts":[{"status":%q,"labels":{"alertname":"BackupwatchWatchdog","severity":"none"},"annotations":{},"startsAt":"2026-12-06T12:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"1"}],"groupLabels":{"alertname":"BackupwatchWatchdog"},"commonLabels":{"alertname":"BackupwatchWatchdog"},"commonAnnotations":{},"externalURL":%q,"version":"4","groupKey":"{}:{alertname=\"BackupwatchWatchdog\"}","truncatedAlerts":0}`, status, status, externalURL)
}

func TestHeartbeatRequests(t *testing.T) {
	am1, am2 := "http://am-1.example.org:9093", "http://am-2.example.org:9093"
	r := newRig(t, am1, am2, "backup-cron")
	srv := httptest.NewServer(r.sw)
	defer srv.Close()
	tests := []struct {
		name, method, query, ctype, body string
		code                             int
		counted                          string // the sender it counts for, "" for none
	}{
		{"alertmanager 1", "POST", "", "application/json", amPayload(am1, "firing"), 200, am1},
		{"alertmanager 2, trailing slash", "POST", "", "application/json", amPayload(am2+"/", "firing"), 200, am2},
		{"credentials in the URL are not kept", "POST", "", "application/json", amPayload("http://user:secret@am-1.example.org:9093", "firing"), 200, am1},
		{"resolved is not a heartbeat", "POST", "", "application/json", amPayload(am1, "resolved"), 200, ""},
		{"a cron curl", "POST", "?sender=backup-cron", "", "", 200, "backup-cron"},
		{"a GET", "GET", "?sender=backup-cron", "", "", 200, "backup-cron"},
		{"plain text body", "POST", "?sender=backup-cron", "text/plain", "{not json but not meant as it", 200, "backup-cron"},
		{"unknown sender", "POST", "", "application/json", amPayload("http://am-3:9093", "firing"), 403, ""},
		{"no sender", "POST", "", "", "", 403, ""},
		{"hostile JSON", "POST", "", "application/json", `{"externalURL":` + strings.Repeat("[", 100000), 400, ""},
		{"wrong types", "POST", "", "application/json", `{"externalURL":{"a":1},"status":[1]}`, 400, ""},
		{"JSON without content type", "POST", "", "", `{"externalURL": 17}`, 400, ""},
		{"huge body", "POST", "", "application/json", `{"externalURL":"` + strings.Repeat("a", 2*MaxBody) + `"}`, 413, ""},
		{"control character in the sender", "POST", "?sender=backup%0Acron", "", "", 400, ""},
		{"long sender", "POST", "?sender=" + strings.Repeat("x", 300), "", "", 400, ""},
		{"DELETE", "DELETE", "", "", "", 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := counts(r.sw)
			req, _ := http.NewRequest(tc.method, srv.URL+"/heartbeat"+tc.query, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
			after := counts(r.sw)
			for name, n := range after {
				want := before[name]
				if name == tc.counted {
					want++
				}
				if n != want {
					t.Errorf("%s: %v heartbeats, want %v", name, n, want)
				}
			}
		})
	}
	// Each reason is logged once a minute at most, whatever comes.
	for reason, want := range map[string]int{reasonTooLarge: 1, reasonBadJSON: 1, reasonResolved: 1, reasonUnknownSender: 1, reasonBadSender: 1, reasonMethod: 1} {
		if got := strings.Count(r.logs.String(), "reason="+reason+" "); got != want {
			t.Errorf("%s: logged %d times, want %d:\n%s", reason, got, want, r.logs)
		}
	}
	if strings.Contains(r.logs.String(), "secret") {
		t.Errorf("a URL's credentials reach the log:\n%s", r.logs)
	}
	// Rejections are counted by reason.
	for reason, want := range map[string]float64{reasonTooLarge: 1, reasonBadJSON: 3, reasonResolved: 1, reasonUnknownSender: 2, reasonBadSender: 2, reasonMethod: 1} {
		r.sw.mu.Lock()
		got := r.sw.rejected[reason]
		r.sw.mu.Unlock()
		if got != want {
			t.Errorf("rejected %s: %v, want %v", reason, got, want)
		}
	}
}

func counts(s *Switch) map[string]float64 {
	st, _ := s.Snapshot()
	out := map[string]float64{}
	for _, x := range st {
		out[x.Name] = x.Count
	}
	return out
}

// TestFlood: many senders at once, known and not, are each a bounded bit
// of work; every known heartbeat counts and no unknown sender is kept.
func TestFlood(t *testing.T) {
	r := newRig(t, "a", "b")
	srv := httptest.NewServer(r.sw)
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 25 {
				name := []string{"a", "b", fmt.Sprintf("stranger-%d-%d", i, j)}[j%3]
				resp, err := http.Post(srv.URL+"/heartbeat?sender="+name, "", nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(r.logs.String(), "reason=unknown_sender"); n != 1 {
		t.Errorf("%d log lines about the unknown senders, want 1 (a flood must not flood the log)", n)
	}
	c := counts(r.sw)
	if len(c) != 2 || c["a"]+c["b"] != 40*17 {
		t.Errorf("counts %v, want a and b only, %d heartbeats", c, 40*17)
	}
}

func TestMetrics(t *testing.T) {
	r := newRig(t, "http://am-1:9093", "http://am-2:9093")
	// am-2 never heard and am-1 silent a minute later (a page), then
	// am-1 back (a warning once it held, Slack failing).
	r.sw.Heartbeat("http://am-1:9093")
	r.run(timeout + tick)
	r.slack.failing = true
	r.run(timeout/5+tick, "http://am-1:9093")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.sw)
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	want := `
# HELP backupwatch_deadman_heartbeats_total Heartbeats received from the sender.
# TYPE backupwatch_deadman_heartbeats_total counter
backupwatch_deadman_heartbeats_total{sender="http://am-1:9093"} 4
backupwatch_deadman_heartbeats_total{sender="http://am-2:9093"} 0
# HELP backupwatch_deadman_sender_silent 1 if the sender sent nothing for longer than --timeout (0 during the first --timeout after a start).
# TYPE backupwatch_deadman_sender_silent gauge
backupwatch_deadman_sender_silent{sender="http://am-1:9093"} 0
backupwatch_deadman_sender_silent{sender="http://am-2:9093"} 1
# HELP backupwatch_deadman_last_heartbeat_timestamp_seconds When the sender's latest heartbeat arrived (absent if none since the state began).
# TYPE backupwatch_deadman_last_heartbeat_timestamp_seconds gauge
backupwatch_deadman_last_heartbeat_timestamp_seconds{sender="http://am-1:9093"} 1.79655924e+09
# HELP backupwatch_deadman_notifications_total Messages delivered to a person, by notifier.
# TYPE backupwatch_deadman_notifications_total counter
backupwatch_deadman_notifications_total{notifier="email"} 2
backupwatch_deadman_notifications_total{notifier="slack"} 1
# HELP backupwatch_deadman_notifications_failed_total Messages that could not be delivered (tried again at the next check), by notifier.
# TYPE backupwatch_deadman_notifications_failed_total counter
backupwatch_deadman_notifications_failed_total{notifier="email"} 0
backupwatch_deadman_notifications_failed_total{notifier="slack"} 1
# HELP backupwatch_deadman_judging 1 once the first --timeout after a start has passed and silences are told.
# TYPE backupwatch_deadman_judging gauge
backupwatch_deadman_judging 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"backupwatch_deadman_heartbeats_total", "backupwatch_deadman_sender_silent", "backupwatch_deadman_last_heartbeat_timestamp_seconds",
		"backupwatch_deadman_notifications_total", "backupwatch_deadman_notifications_failed_total", "backupwatch_deadman_judging"); err != nil {
		t.Error(err)
	}
}
