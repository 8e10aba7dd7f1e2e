package e2e

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// dayScale is TestInboxEscalationDay's: an hour is 15 s, so that its 25
// hours are about 6 minutes. Not faster: Prometheus scrapes every second
// here (startStack), and below 1/240 BackupExporterDown's scaled 5
// minutes are shorter than one scrape, so one scrape missed on a busy
// machine would page.
const dayScale = 1.0 / 240

// TestInboxEscalationDay: the issue's measured day one, "a fleet with 5
// failed and 10 silent hosts sent 28 messages per channel in 25 hours, 24
// of them repeats", with the shipped rules and route for 25 scaled hours,
// on Debian's Prometheus and Alertmanager and on the current ones, in
// parallel. 5 hosts fail their first run (a page), 5 with page_after fail
// theirs (a warning), 10 expected hosts never report. What the route
// promises, counted per channel: a page repeats every 4 hours (at most 7
// messages in 25 hours: at 0, 4, ..., 24 hours), a warning once a day at
// most (2: the second a day after the first), only pages by email.
// Measured: Slack 12 (the page 7 times, the BackupFailed warning and
// BackupStatusUnknown twice each, BackupNotRunIn24Hours once), email 8;
// the 28 each before escalation. A group whose alerts come over
// two evaluations on a busy machine is told twice ([FIRING:3], then
// [FIRING:10]): a change, not a reminder, so reminders are what is
// bounded, not the total.
func TestInboxEscalationDay(t *testing.T) {
	onEachGeneration(t, true, inboxEscalationDay)
}

func inboxEscalationDay(t *testing.T, g generation, long *reservation) {
	paging, warning, silent := hostNames("pg", 5), hostNames("wn", 5), hostNames("sl", 10)
	var expected []string
	expected = append(append(append(expected, paging...), warning...), silent...)
	s := startStack(t, stackOptions{
		hosts:        base,
		expected:     expected,
		scale:        dayScale,
		long:         long,
		prometheus:   g.prometheus,
		alertmanager: g.alertmanager,
		config: `schedules:
  - host: "wn-*"
    page_after: {failures: 3}
`,
	})
	r := &runner{t: t, s: s, scenario: "escalation: day one, 25 hours (" + g.name + ")", hostRE: regexp.MustCompile(`\b(pg|wn|sl)-\d{3}\b`)}
	hour := time.Duration(float64(time.Hour) * s.opts.scale)
	// isWarning tells a warning's message from a page's: BackupFailed
	// says so while it warns; the others by their rule's severity.
	isWarning := func(n note) bool { return warned(n) || s.severity[n.Alertname] == "warning" }
	var sl, em []note
	r.phase(phase{name: "5 hosts fail their first run (page), 5 with page_after fail theirs (warning), 10 never report: 25 hours", bounded: true,
		wantText: "reminders: the BackupFailed page every 4 h (6 at most), the warnings (BackupFailed's, BackupStatusUnknown) once a day (1 each at most), BackupNotRunIn24Hours none; email: the pages only",
		do: func() {
			var cmds [][]string
			for _, h := range append(append([]string(nil), paging...), warning...) {
				// Each its own error: ten hosts failing for one
				// cause would be a storm (BackupFailuresWidespread,
				// TestInboxStorm), holding back their BackupFailed.
				cmds = append(cmds, []string{"record", "--host=" + h, "--status=failed", "--exit-code=1", "--message=" + repoDown + " (" + h + ")"})
			}
			start := time.Now()
			// In one scrape: results reaching Prometheus over two
			// evaluations make two first messages ([FIRING:3], then
			// [FIRING:5]: Alertmanager telling the group's change).
			s.atOnce("failures", func() { s.bwAll(cmds) }, len(cmds))
			// The scenario's own clock: 25 hours of nothing recorded.
			time.Sleep(time.Until(start.Add(25 * hour)))
		},
		until: func(_, _, _ []note) bool { return true },
		check: func(slack, _, email []note) []string {
			sl, em = slack, email
			var out []string
			for ch, ns := range map[string][]note{"slack": slack, "email": email} {
				for _, n := range ns {
					if n.Status != "firing" {
						out = append(out, fmt.Sprintf("%s: unexpected %s: nothing was fixed", ch, n))
					}
					if ch == "email" && isWarning(n) {
						out = append(out, fmt.Sprintf("email: %q is a warning: only pages go by email", n.Title))
					}
				}
				// A reminder repeats a message (the same title); a group
				// whose alerts reach Alertmanager over two evaluations
				// (a busy machine) sends [FIRING:3] then [FIRING:10], a
				// change told, no reminder.
				if k := len(reminders(ns, "BackupFailed", false)); k < 1 || k > 6 {
					out = append(out, fmt.Sprintf("%s: the BackupFailed page reminded %d times in 25 hours (%s), want every 4 hours: 6 (at most), and at least once", ch, k, summarise(ns)))
				}
				// The silent hosts page once they have had no record for
				// 24 hours; its first reminder would be at 28.
				if count(ns, "firing", "BackupNotRunIn24Hours") < 1 {
					out = append(out, fmt.Sprintf("%s: no BackupNotRunIn24Hours in 25 hours: the silent hosts page at 24", ch))
				}
				if k := len(reminders(ns, "BackupNotRunIn24Hours", false)); k > 0 {
					out = append(out, fmt.Sprintf("%s: BackupNotRunIn24Hours reminded %d times within an hour of its first", ch, k))
				}
			}
			if k := len(reminders(slack, "BackupFailed", true)); k > 1 {
				out = append(out, fmt.Sprintf("slack: the BackupFailed warning reminded %d times in 25 hours, want once at most", k))
			}
			if k := count(slack, "firing", "BackupStatusUnknown"); k < 1 {
				out = append(out, "slack: no BackupStatusUnknown in 25 hours (the silent hosts, after an hour)")
			}
			if k := len(reminders(slack, "BackupStatusUnknown", false)); k > 1 {
				out = append(out, fmt.Sprintf("slack: BackupStatusUnknown reminded %d times in 25 hours, want once at most", k))
			}
			return out
		},
	})
	t.Logf("day one, 25 scaled hours: slack %d (%s), email %d (%s)", len(sl), summarise(sl), len(em), summarise(em))
	printSummary(t)
}
