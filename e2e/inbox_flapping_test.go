package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// flapScale is the flapping scenario's: an hour is 15 s, so that its day
// (24 runs, then the 8 hours it takes to stop flapping) is about 8
// minutes. (Its Prometheus scrapes every second, serve's refresh, not
// every scaled minute: see startStack.)
const flapScale = 1.0 / 240

// TestInboxFlapping: one host whose backup alternates failed/success every
// hour for a day, the scenario, with the shipped rules and route,
// on Debian's Prometheus and Alertmanager and on the current ones, in
// parallel. Its first failure is told at once (the runbook's promise: it
// is not flapping yet) and, a success later, resolved at once
// (BackupFailed is a runbook rule: a real change resolves it at the next
// evaluation, and TestRunbookRulesUnchanged keeps keep_firing_for off
// it). Its third change makes it one problem, BackupFlapping (a warning:
// Slack only), which holds back every later BackupFailed and "resolved":
// the day is 3 messages on Slack and 2 by email, where it was 24 on each
// (issue 20 asks for 2: the onset's pair comes before anything can tell a
// flap from a failure fixed, and a "resolved" held back until the next run
// is dropped, not delayed: docs/alerts.md, BackupFlapping). From then on a
// day is at most the warning's daily reminder, and when it stops flapping
// (successes only) one resolved message, the last on each channel.
//
// Its day takes about 8 minutes, most of them waiting for the next run:
// a long scenario, whose stacks the harness starts before the short ones
// waiting (longScenario).
func TestInboxFlapping(t *testing.T) {
	onEachGeneration(t, true, inboxFlapping)
}

func inboxFlapping(t *testing.T, g generation, long *reservation) {
	// The host alone: a fleet's other hosts would go overdue within the
	// day unless they recorded too, which is not what is measured here.
	s := startStack(t, stackOptions{hosts: []string{"db"}, scale: flapScale, long: long, prometheus: g.prometheus, alertmanager: g.alertmanager})
	r := &runner{t: t, s: s, scenario: "flapping: db fails every other hour for a day (" + g.name + ")", hostRE: regexp.MustCompile(`\bdb\b`)}
	hour := time.Duration(float64(time.Hour) * s.opts.scale)
	run := func(i int) {
		if i%2 == 0 {
			s.bw("record", "--status=failed", "--host=db", "--exit-code=1", fmt.Sprintf("--message=Fatal: unable to create lock in backend: repository is already locked (run %d)", i))
			return
		}
		s.bw("record", "--status=success", "--host=db")
	}
	// runs plays run i at start+i hours, for i in [from, to).
	start := time.Now()
	runs := func(from, to int, run func(int)) {
		for i := from; i < to; i++ {
			time.Sleep(time.Until(start.Add(time.Duration(i) * hour)))
			run(i)
		}
	}
	day := s.mark()

	first := firing("BackupFailed", 1).titled("db").saying("db", "repository is already locked").linking(s.statusLink("db"))
	r.phase(phase{name: "db fails (run 0): told at once", slack: []want{first}, email: []want{first},
		do: func() { runs(0, 1, run) }})

	var daySlack, dayEmail []note
	r.phase(phase{name: "db alternates success/failed every hour for the rest of the day (runs 1-23)", bounded: true,
		wantText: "slack: firing BackupFailed, resolved BackupFailed, firing BackupFlapping; email: firing BackupFailed, resolved BackupFailed",
		do: func() {
			runs(1, 24, run)
			// The last run's messages: within a group interval after
			// the next evaluation; the settle period covers them.
		},
		until: func(_, _, _ []note) bool { return true },
		check: func(_, _, _ []note) []string {
			daySlack, _, dayEmail = s.since(day)
			var out []string
			// The onset (run 0 fails, run 1 succeeds) is told as it
			// happens; nothing of db's BackupFailed after it.
			for ch, ns := range map[string][]note{"slack": daySlack, "email": dayEmail} {
				if count(ns, "firing", "BackupFailed") != 1 || count(ns, "resolved", "BackupFailed") != 1 {
					out = append(out, fmt.Sprintf("%s got %s in the day, want one BackupFailed and its resolution (the onset), no more", ch, summarise(ns)))
				}
			}
			if len(daySlack) > 3 || len(dayEmail) > 2 {
				out = append(out, fmt.Sprintf("the day sent slack %d (%s), email %d (%s): want at most 3 and 2", len(daySlack), summarise(daySlack), len(dayEmail), summarise(dayEmail)))
			}
			if n := count(daySlack, "firing", "BackupFlapping"); n != 1 {
				out = append(out, fmt.Sprintf("slack: %d firing BackupFlapping in the day (%s), want 1: nothing said db flaps", n, summarise(daySlack)))
			}
			for _, n := range daySlack {
				if n.Alertname == "BackupFlapping" {
					if p := firing("BackupFlapping", 1).saying("db", "runs failed").problems(n); len(p) > 0 {
						out = append(out, fmt.Sprintf("slack %q: %s", n.Title, strings.Join(p, "; ")))
					}
				}
			}
			return out
		}})
	t.Logf("the day (24 runs, one an hour): slack %d (%s), email %d (%s)", len(daySlack), summarise(daySlack), len(dayEmail), summarise(dayEmail))

	// It stops flapping: successes only, every hour, until the 6 hours of
	// BackupFlapping's window hold fewer than 3 changes, and a few more.
	var after []note
	r.phase(phase{name: "db succeeds every hour (runs 24-31): one resolved message, the last", bounded: true,
		wantText: "slack: resolved BackupFlapping, the last (after its daily reminder if the day has passed); email: none (told resolved at run 1)",
		do: func() {
			runs(24, 32, func(int) { s.bw("record", "--status=success", "--host=db") })
		},
		until: func(_, _, _ []note) bool { return true },
		check: func(sl, _, em []note) []string {
			var out []string
			after = append(append(after, sl...), em...)
			if count(sl, "resolved", "BackupFlapping") != 1 || sl[len(sl)-1].Status != "resolved" {
				out = append(out, fmt.Sprintf("slack got %s once it stopped flapping, want one resolved BackupFlapping, the last", summarise(sl)))
			}
			for _, n := range sl {
				// A warning is reminded once a day: the day began at run 2.
				if n.Alertname != "BackupFlapping" || (n.Status == "firing" && count(sl, "firing", "BackupFlapping") > 1) {
					out = append(out, fmt.Sprintf("slack: unexpected %s once it stopped flapping", n))
				}
			}
			if len(em) > 0 {
				out = append(out, fmt.Sprintf("email got %s once it stopped flapping, want none: its last message (run 1) was resolved", summarise(em)))
			}
			if a := s.promAlerts(); strings.Contains(a, "BackupFlapping") || strings.Contains(a, "BackupFailed") {
				out = append(out, "Prometheus still has "+a)
			}
			return out
		}})
	t.Logf("once it stopped flapping: %s", summarise(after))
	printSummary(t)
}
