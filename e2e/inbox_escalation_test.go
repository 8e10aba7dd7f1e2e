package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// warned reports whether n is about BackupFailed's warning (before it
// pages): its text says so.
func warned(n note) bool {
	for _, p := range n.Parts {
		if strings.Contains(strings.ToLower(p), "a warning until it pages") {
			return true
		}
	}
	return false
}

// TestInboxEscalation: escalation through the whole stack, the shipped
// rules and route, and page_after in serve's config file. A host with
// page_after {failures: 3} that fails once is a warning on Slack only; a
// second failure sends nothing; the third pages by email (and Slack), with
// no "resolved" for the warning; its success resolves the page on both.
// Then reminders: on day one of a fleet (hosts failing their first run,
// hosts never reporting), a page repeats every 4 hours, a warning not
// within the day.
func TestInboxEscalation(t *testing.T) {
	t.Parallel()
	t.Run("warning, then page", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, stackOptions{
			hosts: base,
			config: `hosts:
  - name: db
    page_after: {failures: 3}
  - auth
  - web
`,
		})
		r := &runner{t: t, s: s, scenario: "escalation: db pages at its third failure", hostRE: regexp.MustCompile(`\b(db|auth|web)\b`)}
		fail := func() { s.bw("record", "--status=failed", "--host=db", "--exit-code=1", "--message="+repoDown) }
		warning := firing("BackupFailed", 1).titled("db").saying("db", "a warning until it pages", "after 3 failures in a row").matching(exitCodeRE(1))
		r.phase(phase{name: "db fails once: a warning, to Slack only", do: fail, slack: []want{warning}})
		r.phase(phase{name: "db fails again: nothing new", do: fail})
		notWarning := func(sl, _, em []note) []string {
			var out []string
			for _, n := range append(sl, em...) {
				if warned(n) {
					out = append(out, fmt.Sprintf("%s %q is the warning, not the page", n.Channel, n.Title))
				}
			}
			return out
		}
		page := firing("BackupFailed", 1).titled("db").saying("db").matching(exitCodeRE(1))
		r.phase(phase{name: "db fails a third time: a page, by email and Slack", do: fail,
			slack: []want{page}, email: []want{page}, check: notWarning})
		fixed := resolved("BackupFailed").titled("db")
		r.phase(phase{name: "db succeeds: the page resolves", do: func() { s.bw("record", "--status=success", "--host=db") },
			slack: []want{fixed}, email: []want{fixed}})
		printSummary(t)
	})

	t.Run("reminders on day one", func(t *testing.T) {
		t.Parallel()
		paging, warning, silent := hostNames("pg", 5), hostNames("wn", 5), hostNames("sl", 10)
		var expected []string
		expected = append(append(append(expected, paging...), warning...), silent...)
		s := startStack(t, stackOptions{
			hosts:    base,
			expected: expected,
			config: `schedules:
  - host: "wn-*"
    page_after: {failures: 3}
`,
		})
		r := &runner{t: t, s: s, scenario: "escalation: day one, reminders", hostRE: regexp.MustCompile(`\b(pg|wn|sl)-\d{3}\b`)}
		hour := time.Duration(float64(time.Hour) * s.opts.scale)
		var sl, em []note
		r.phase(phase{name: "5 hosts fail their first run (page), 5 with page_after fail theirs (warning), 10 never report: 4 hours", bounded: true,
			wantText: "slack: BackupFailed page ×2 (at 0 and 4 h), BackupFailed warning ×1, BackupStatusUnknown warning ×1; email: BackupFailed page ×2",
			do: func() {
				m := s.mark()
				var cmds [][]string
				for _, h := range append(append([]string(nil), paging...), warning...) {
					// Each its own error: ten hosts failing for one
					// cause would be a storm (BackupFailuresWidespread,
					// TestInboxStorm), holding back their BackupFailed.
					cmds = append(cmds, []string{"record", "--host=" + h, "--status=failed", "--exit-code=1", "--message=" + repoDown + " (" + h + ")"})
				}
				s.bwAll(cmds)
				// The page's first reminder (4 hours after the first
				// message) ends the window, and the settle period after
				// it (3 group intervals) would hold the warning's
				// reminder if it came every 4 hours too.
				// A reminder repeats a message: the same alerts, so the
				// same title. Results that reach Prometheus over two
				// evaluations (a busy machine) make two first messages,
				// [FIRING:3] then [FIRING:5] (Alertmanager telling the
				// group's change): neither is a reminder.
				waitFor(t, "the page's first reminder by email", 5*hour+s.deadline, func() (bool, string) {
					_, _, em := s.since(m)
					return len(reminders(em, "BackupFailed", false)) >= 1, "email: " + summarise(em)
				})
			},
			until: func(_, _, _ []note) bool { return true },
			check: func(slack, _, email []note) []string {
				sl, em = slack, email
				var out []string
				var warnings int
				for _, n := range slack {
					if n.Alertname == "BackupFailed" && n.Status == "firing" && warned(n) {
						warnings++
					}
				}
				if warnings == 0 {
					out = append(out, "slack: no BackupFailed warning")
				}
				if r := reminders(slack, "BackupFailed", true); len(r) > 0 {
					out = append(out, fmt.Sprintf("slack: warning reminded within 4 hours (%s): a warning is reminded once a day at most", summarise(r)))
				}
				if r := reminders(slack, "BackupFailed", false); len(r) < 1 {
					out = append(out, "slack: no BackupFailed page reminder, want one (a page repeats every 4 hours)")
				}
				if n := count(slack, "firing", "BackupStatusUnknown"); n != 1 {
					out = append(out, fmt.Sprintf("slack: %d BackupStatusUnknown, want 1 (a warning, once a day at most)", n))
				}
				for _, n := range email {
					if n.Alertname != "BackupFailed" || warned(n) {
						out = append(out, fmt.Sprintf("email: %q: only pages go by email", n.Title))
					}
				}
				if r := append(reminders(slack, "BackupFailed", false), reminders(email, "BackupFailed", false)...); len(r) > 2 {
					out = append(out, fmt.Sprintf("%d page reminders in 4 hours (%s): want one per channel", len(r), summarise(r)))
				}
				return out
			},
		})
		t.Logf("day one, 4 scaled hours: slack %d (%s), email %d (%s)", len(sl), summarise(sl), len(em), summarise(em))
		printSummary(t)
	})
}

// reminders are the firing notes about alert (its warnings, or its pages)
// that repeat an earlier note's title: the same alerts told again.
func reminders(notes []note, alert string, warnings bool) []note {
	seen := map[string]bool{}
	var out []note
	for _, n := range notes {
		if n.Alertname != alert || n.Status != "firing" || warned(n) != warnings {
			continue
		}
		if seen[n.Title] {
			out = append(out, n)
		}
		seen[n.Title] = true
	}
	return out
}
