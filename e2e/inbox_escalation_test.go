package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
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
// (Reminders over a fleet's first 25 hours: TestInboxEscalationDay.)
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
