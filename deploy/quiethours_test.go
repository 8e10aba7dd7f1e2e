package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// timedPost is a Slack post's title and when it arrived.
type timedPost struct {
	title string
	at    time.Time
}

// timedSlack records Slack posts with their arrival time.
type timedSlack struct {
	mu    sync.Mutex
	posts []timedPost
}

func (s *timedSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var m struct {
		Attachments []struct{ Title string } `json:"attachments"`
	}
	b, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(b, &m)
	s.mu.Lock()
	for _, a := range m.Attachments {
		s.posts = append(s.posts, timedPost{a.Title, at})
	}
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

// with returns the posts whose title starts with prefix.
func (s *timedSlack) with(prefix string) []timedPost {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []timedPost
	for _, p := range s.posts {
		if strings.HasPrefix(p.title, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// quietHoursConfig is the example of alertmanager/quiet-hours.yml in a
// configuration of its own, its working hours replaced by [start, end)
// in UTC on every day, its timings by seconds, and a route for the
// other backup alerts to the same Slack after it.
func quietHoursConfig(t *testing.T, slackURL string, start, end string) string {
	t.Helper()
	b, err := os.ReadFile("alertmanager/quiet-hours.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, r := range []struct{ old, new string }{
		{"start_time: '08:00'", "start_time: '" + start + "'"},
		{"end_time: '18:00'", "end_time: '" + end + "'"},
		{"weekdays: ['monday:friday']", "weekdays: ['sunday:saturday']"},
		{"location: 'Europe/London'", "location: 'UTC'"},
		{"group_wait: 2m", "group_wait: 1s"},
		{"group_interval: 5m", "group_interval: 2s"},
	} {
		if !strings.Contains(s, r.old) {
			t.Fatalf("quiet-hours.yml has no %q to replace", r.old)
		}
		s = strings.ReplaceAll(s, r.old, r.new)
	}
	i := strings.Index(s, "\nroutes:\n")
	if i < 0 || !strings.Contains(s[:i], "\ntime_intervals:\n") {
		t.Fatal("quiet-hours.yml: want time_intervals: and then routes: at the top level")
	}
	var routes strings.Builder
	for line := range strings.Lines(s[i+len("\nroutes:\n"):]) {
		routes.WriteString("  " + line)
	}
	dir := t.TempDir()
	tmpl, _ := filepath.Abs("alertmanager/backupwatch.tmpl")
	webhook := filepath.Join(dir, "slack-url")
	if err := os.WriteFile(webhook, []byte(slackURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`templates: ['%s']
%s
route:
  receiver: 'default'
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 2s
  routes:
%s    - matchers: ['alertname=~"Backup.*|RestoreTest.*"']
      receiver: 'backup-slack'
receivers:
  - name: 'default'
  - name: 'backup-slack'
    slack_configs:
      - api_url_file: '%s'
        send_resolved: true
        title: '{{ template "backupwatch.slack.title" . }}'
        text: '{{ template "backupwatch.slack.text" . }}'
`, tmpl, s[:i], routes.String(), webhook)
}

// TestQuietHours: with the quiet-hours example on a live Alertmanager
// (Debian's 0.25 and the current release), a warning posted before the
// working hours begin is not sent while a page of the same moment is, and
// is sent once, as firing, when the hours begin. The hours begin at the
// next minute boundary at least 20 s away (time intervals have minute
// resolution), so a run takes up to 80 s; the two generations run side
// by side.
func TestQuietHours(t *testing.T) {
	for _, am := range parts.Both(t, "alertmanager") {
		t.Run(am.String(), func(t *testing.T) {
			t.Parallel()
			testQuietHours(t, am.Path)
		})
	}
}

func testQuietHours(t *testing.T, am string) {
	now := time.Now().UTC()
	start := now.Truncate(time.Minute).Add(time.Minute)
	if start.Sub(now) < 20*time.Second {
		start = start.Add(time.Minute)
	}
	end := start.Add(10 * time.Minute)
	endText := end.Format("15:04")
	if end.Day() != start.Day() {
		endText = "24:00"
	}
	slack := &timedSlack{}
	srv := httptest.NewServer(slack)
	defer srv.Close()
	base := runAlertmanager(t, am, quietHoursConfig(t, srv.URL, start.Format("15:04"), endText), "", "")

	alert := func(name, severity, host, endsAt string) amAlert {
		return amAlert{
			Labels:      map[string]string{"alertname": name, "severity": severity, "host": host},
			Annotations: map[string]string{"summary": name + " for " + host, "description": name + " description", "runbook_url": runbookURL + strings.ToLower(name)},
			EndsAt:      endsAt,
		}
	}
	warning := alert("BackupStatusUnknown", "warning", "new-1", "")
	page := alert("BackupFailed", "critical", "db", "")
	postAlerts(t, base, []amAlert{warning, page})

	// The page comes at once: the groups are flushed during the quiet
	// hours, and the warning's is not sent.
	waitUntil(t, "the page", func() bool { return len(slack.with("[FIRING:1] BackupFailed")) > 0 })
	if at := slack.with("[FIRING:1] BackupFailed")[0].at; !at.Before(start) {
		t.Fatalf("the page came at %s, after the hours began (%s): too slow to tell anything", at, start)
	}
	deadline := start.Add(60 * time.Second)
	for len(slack.with("[FIRING:1] BackupStatusUnknown")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the warning was not sent within 60s of the hours' start (%s); posts: %v", start, slack.with(""))
		}
		// Prometheus resends firing alerts; so does this test, so that
		// the warning is one that is still true when the hours begin.
		postAlerts(t, base, []amAlert{warning})
		time.Sleep(500 * time.Millisecond)
	}
	got := slack.with("[FIRING:1] BackupStatusUnknown")
	if got[0].at.Before(start) {
		t.Errorf("the warning was sent at %s, during the quiet hours (they end at %s)", got[0].at, start)
	}
	// Settle on an event, not a sleep: the page's resolution is sent at a
	// later flush; by then a second warning would have come too.
	page.EndsAt = time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	postAlerts(t, base, []amAlert{page})
	waitUntil(t, "the page's resolution", func() bool { return len(slack.with("[RESOLVED] BackupFailed")) > 0 })
	if got := slack.with("[FIRING:1] BackupStatusUnknown"); len(got) != 1 {
		t.Errorf("the warning was sent %d times, want once", len(got))
	}
	t.Logf("hours began %s; warning sent %s after", start.Format(time.TimeOnly), got[0].at.Sub(start).Round(time.Millisecond))
}
