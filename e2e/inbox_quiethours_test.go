package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// withQuietHours returns an amEdit merging deploy/alertmanager/quiet-hours.yml
// into the shipped file as it says (its time_intervals at the top level,
// its route before the backup routes), its working hours beginning at the
// first minute boundary at least lead away from when the file is written
// (time intervals have minute resolution, and are never scaled), every day,
// in UTC; *start gets that moment.
func withQuietHours(t *testing.T, lead time.Duration, start *time.Time) func(string) string {
	return func(am string) string {
		b, err := os.ReadFile(filepath.Join(deployDir(t), "alertmanager", "quiet-hours.yml"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		*start = now.Add(lead).Truncate(time.Minute).Add(time.Minute)
		end := start.Add(30 * time.Minute)
		endText := end.Format("15:04")
		if end.Day() != start.Day() {
			endText = "24:00"
		}
		s := string(b)
		for _, r := range [][2]string{
			{"start_time: '08:00'", "start_time: '" + start.Format("15:04") + "'"},
			{"end_time: '18:00'", "end_time: '" + endText + "'"},
			{"weekdays: ['monday:friday']", "weekdays: ['sunday:saturday']"},
			{"location: 'Europe/London'", "location: 'UTC'"},
		} {
			if !strings.Contains(s, r[0]) {
				t.Fatalf("quiet-hours.yml has no %q to replace", r[0])
			}
			s = strings.ReplaceAll(s, r[0], r[1])
		}
		i := strings.Index(s, "\nroutes:\n")
		if i < 0 || !strings.Contains(s[:i], "\ntime_intervals:\n") {
			t.Fatal("quiet-hours.yml: want time_intervals: and then routes: at the top level")
		}
		var routes strings.Builder
		for line := range strings.Lines(s[i+len("\nroutes:\n"):]) {
			routes.WriteString("  " + line)
		}
		loc := fleetRouteRE.FindStringIndex(am)
		if loc == nil {
			t.Fatalf("the shipped alertmanager.yml has no warnings route (%s)", fleetRouteRE)
		}
		am = am[:loc[0]] + routes.String() + am[loc[0]:]
		r := strings.Index(am, "\nroute:\n")
		if r < 0 {
			t.Fatal("the shipped alertmanager.yml has no top-level route:")
		}
		return am[:r+1] + s[:i+1] + "\n" + am[r+1:]
	}
}

// TestInboxQuietHours: quiet hours are not silence (issue 20, item 6). The
// shipped route with deploy/alertmanager/quiet-hours.yml merged in, and a
// host whose failure is a warning until its third (page_after). Before
// the working hours begin, that host fails (a warning) and another fails
// (a page): the page comes at once by Slack and email, the warning does
// not. When the hours begin, the warning, still true, comes to Slack,
// once: delayed, not dropped. On Debian's Prometheus and Alertmanager and
// on the current ones, in parallel.
func TestInboxQuietHours(t *testing.T) {
	onEachGeneration(t, false, func(t *testing.T, g generation, _ *reservation) { inboxQuietHours(t, g) })
}

func inboxQuietHours(t *testing.T, g generation) {
	var start time.Time
	// The hours begin at least 50 s after Alertmanager's configuration is
	// written: the stack's start and the first phase (a group_wait and
	// the settle period) fit before, on a busy machine.
	s := startStack(t, stackOptions{
		hosts:        base,
		prometheus:   g.prometheus,
		alertmanager: g.alertmanager,
		amEdit:       withQuietHours(t, 50*time.Second, &start),
		config: `hosts:
  - name: db
    page_after: {failures: 3}
  - auth
  - web
`,
	})
	r := &runner{t: t, s: s, scenario: "quiet hours: a warning waits for the working hours (" + g.name + ")", hostRE: regexp.MustCompile(`\b(db|auth|web)\b`)}
	noWarning := func(sl, _, em []note) []string {
		var out []string
		for _, n := range append(sl, em...) {
			if warned(n) {
				out = append(out, fmt.Sprintf("%s %q: the warning, during the quiet hours", n.Channel, n.Title))
			}
		}
		return out
	}
	page := firing("BackupFailed", 1).titled("auth").saying("auth", repoDown)
	r.phase(phase{name: "before the hours: db fails (a warning), auth fails (a page)", slack: []want{page}, email: []want{page}, check: noWarning,
		do: func() {
			s.bwAll([][]string{
				{"record", "--status=failed", "--host=db", "--exit-code=1", "--message=Fatal: wrong password or no key found"},
				{"record", "--status=failed", "--host=auth", "--exit-code=1", "--message=" + repoDown},
			})
		}})
	if left := time.Until(start); left <= 0 {
		t.Fatalf("the first phase ended %v after the working hours began: too slow to tell a delay from a send", -left)
	}
	warning := firing("BackupFailed", 1).titled("db").saying("db", "a warning until it pages", "wrong password")
	r.phase(phase{name: "the working hours begin: the warning comes, once", slack: []want{warning},
		do: func() {
			// Until the hours begin, nothing may come (a condition
			// watched, not a sleep: the end of the quiet hours is a
			// moment of the clock).
			m := s.mark()
			waitFor(t, "the working hours to begin", time.Until(start)+time.Second, func() (bool, string) {
				sl, rej, em := s.since(m)
				if p := noWarning(sl, rej, em); len(p) > 0 {
					t.Errorf("before %s: %s", start.Format(time.TimeOnly), strings.Join(p, "; "))
				}
				return !time.Now().Before(start), fmt.Sprintf("slack %s", summarise(sl))
			})
		}})
	printSummary(t)
}
