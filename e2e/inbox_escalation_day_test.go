package e2e

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// dayScale is TestInboxEscalationDay's: an hour is 10 s, so that its 25
// hours are about 4 minutes.
const dayScale = 1.0 / 360

// TestInboxEscalationDay: the issue's measured day one, "a fleet with 5
// failed and 10 silent hosts sent 28 messages per channel in 25 hours, 24
// of them repeats", with the shipped rules and route for 25 scaled hours,
// on Debian's Prometheus and Alertmanager and on the current ones, in
// parallel. 5 hosts fail their first run (a page), 5 with page_after fail
// theirs (a warning), 10 expected hosts never report. What the route
// promises, counted per channel: a page repeats every 4 hours (at most 7
// messages in 25 hours: at 0, 4, ..., 24 hours), a warning once a day at
// most (2: at once and a day later), only pages by email. Measured: Slack
// 12 (the page 7 times, the BackupFailed warning and BackupStatusUnknown
// twice each, BackupNotRunIn24Hours once), email 8; the 28 each
// before escalation.
func TestInboxEscalationDay(t *testing.T) {
	gens := generations(t)
	long := longScenario(t, len(gens))
	t.Parallel()
	for _, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			inboxEscalationDay(t, g, long)
		})
	}
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
		wantText: "slack: BackupFailed page ≤7 (every 4 h), BackupFailed warning ≤2 and BackupStatusUnknown ≤2 (once a day), BackupNotRunIn24Hours 1; ≤12 in all; email: the pages only, ≤8",
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
				titles := map[string]int{}
				for _, n := range ns {
					if n.Status != "firing" {
						out = append(out, fmt.Sprintf("%s: unexpected %s: nothing was fixed", ch, n))
						continue
					}
					titles[n.Title]++
					if ch == "email" && isWarning(n) {
						out = append(out, fmt.Sprintf("email: %q is a warning: only pages go by email", n.Title))
					}
				}
				for title, k := range titles {
					// The same title is the same alerts told again.
					if k > 2 && isWarning(titled(ns, title)) {
						out = append(out, fmt.Sprintf("%s: warning %q told %d times in 25 hours: a warning is reminded once a day at most", ch, title, k))
					}
					if k > 7 {
						out = append(out, fmt.Sprintf("%s: %q told %d times in 25 hours: a page repeats every 4 hours at most (7)", ch, title, k))
					}
				}
				if k := len(reminders(ns, "BackupFailed", false)); k < 1 {
					out = append(out, fmt.Sprintf("%s: the BackupFailed page was never reminded in 25 hours (%s), want a reminder every 4 hours", ch, summarise(ns)))
				}
			}
			if k := len(reminders(slack, "BackupFailed", true)); k > 1 {
				out = append(out, fmt.Sprintf("slack: the BackupFailed warning reminded %d times in 25 hours, want once at most", k))
			}
			if k := count(slack, "firing", "BackupStatusUnknown"); k < 1 || k > 2 {
				out = append(out, fmt.Sprintf("slack: %d BackupStatusUnknown in 25 hours, want 1 (or 2 with its daily reminder at the very end)", k))
			}
			for ch, ns := range map[string][]note{"slack": slack, "email": email} {
				// The silent hosts page once they have had no record
				// for 24 hours; its first reminder would be at 28.
				if k := count(ns, "firing", "BackupNotRunIn24Hours"); k != 1 {
					out = append(out, fmt.Sprintf("%s: %d BackupNotRunIn24Hours in 25 hours, want 1 (the silent hosts, at 24 hours)", ch, k))
				}
			}
			// In all, what the route allows: the page 7 times, the
			// warnings twice each, BackupNotRunIn24Hours once; the issue
			// measured 28 on each channel before escalation.
			if len(slack) > 12 || len(email) > 8 {
				out = append(out, fmt.Sprintf("25 hours sent slack %d, email %d: want at most 12 and 8", len(slack), len(email)))
			}
			return out
		},
	})
	t.Logf("day one, 25 scaled hours: slack %d (%s), email %d (%s)", len(sl), summarise(sl), len(em), summarise(em))
	printSummary(t)
}

// titled is the first of notes titled title.
func titled(notes []note, title string) note {
	for _, n := range notes {
		if n.Title == title {
			return n
		}
	}
	return note{}
}
