package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// The inbox suite: timelines of events through the whole stack, each
// asserting exactly what a person receives on each channel (Slack and the
// backup owner's email): how many notifications, firing or resolved, about
// which alert, and what they say. Notifications are counted, never timed:
// each phase waits (up to a bound) for what it expects, then lets a few
// group intervals pass and asserts that nothing more came.

// Bounds every notification must keep, whatever was recorded.
const (
	maxSlackBytes = 16 << 10 // well within Slack's limits, readable in a channel
	maxEmailBytes = 64 << 10
	maxNamedHosts = 10 // hosts listed in one notification
)

// want is one notification expected on a channel.
type want struct {
	status string   // "firing" or "resolved"
	alert  string   // alertname, the first word of the title
	firing int      // N of "[FIRING:N]"; 0 for any
	title  []string // in the title
	says   []string // in every part (case-insensitive), title included
	sayRE  []string // regular expressions every part matches
	links  []string // in every part as decoded (an href counts)
}

func (w want) String() string {
	s := w.status + " " + w.alert
	if w.firing > 0 {
		s += fmt.Sprintf("[%d]", w.firing)
	}
	return s
}

func firing(alert string, n int) want { return want{status: "firing", alert: alert, firing: n} }
func resolved(alert string) want      { return want{status: "resolved", alert: alert} }

func (w want) saying(s ...string) want    { w.says = append(slices.Clone(w.says), s...); return w }
func (w want) matching(re ...string) want { w.sayRE = append(slices.Clone(w.sayRE), re...); return w }
func (w want) titled(s ...string) want    { w.title = append(slices.Clone(w.title), s...); return w }
func (w want) linking(s ...string) want   { w.links = append(slices.Clone(w.links), s...); return w }

// problems says how n differs from w; none means n is it.
func (w want) problems(n note) []string {
	if n.Status != w.status || n.Alertname != w.alert {
		return []string{fmt.Sprintf("is %s %s", n.Status, n.Alertname)}
	}
	var out []string
	if w.firing > 0 && n.Firing != w.firing {
		out = append(out, fmt.Sprintf("counts %d firing, want %d", n.Firing, w.firing))
	}
	for _, s := range w.title {
		if !strings.Contains(n.Title, s) {
			out = append(out, fmt.Sprintf("title lacks %q", s))
		}
	}
	if len(n.Parts) == 0 {
		out = append(out, "has no text")
	}
	for i, p := range n.Parts {
		hay := strings.ToLower(n.Title + " " + p)
		for _, s := range w.says {
			if !strings.Contains(hay, strings.ToLower(s)) {
				out = append(out, fmt.Sprintf("part %d does not say %q", i, s))
			}
		}
		for _, re := range w.sayRE {
			if !regexp.MustCompile(re).MatchString(n.Title + " " + p) {
				out = append(out, fmt.Sprintf("part %d does not match %s", i, re))
			}
		}
	}
	for i, d := range n.Decoded {
		for _, l := range w.links {
			if !strings.Contains(strings.ReplaceAll(d, "&amp;", "&"), l) {
				out = append(out, fmt.Sprintf("part %d has no link %s", i, l))
			}
		}
	}
	return out
}

// hugeAgeRE is an age of a thousand days or more: what a never-recorded
// time looks like through humanizeDuration ("20784d 23h").
var hugeAgeRE = regexp.MustCompile(`\b\d{4,}d\b`)

// universal are the checks every notification passes, in every scenario.
func universal(n note, hostRE *regexp.Regexp) []string {
	var out []string
	limit := maxSlackBytes
	if n.Channel == "email" {
		limit = maxEmailBytes
	}
	if n.Size > limit {
		out = append(out, fmt.Sprintf("is %d bytes, over %d", n.Size, limit))
	}
	if n.Status == "" {
		out = append(out, "title is neither [FIRING:N] nor [RESOLVED]")
	}
	for i, p := range n.Parts {
		if m := hugeAgeRE.FindString(p); m != "" {
			out = append(out, fmt.Sprintf("part %d gives an age of %s (a time never recorded?)", i, m))
		}
		if strings.Contains(p, "<no value>") {
			out = append(out, fmt.Sprintf("part %d has <no value> (a template field that does not exist)", i))
		}
		if hostRE != nil {
			if k := mentions(p, hostRE); k > maxNamedHosts {
				out = append(out, fmt.Sprintf("part %d names %d hosts, over %d", i, k, maxNamedHosts))
			}
		}
	}
	return out
}

// match pairs each expected notification with one received; it returns
// what is missing, unexpected or wrong.
func match(channel string, wants []want, got []note) []string {
	used := make([]bool, len(got))
	var out []string
	for _, w := range wants {
		found := false
		var closest []string
		for i, n := range got {
			if used[i] {
				continue
			}
			p := w.problems(n)
			if len(p) == 0 {
				used[i], found = true, true
				break
			}
			if n.Status == w.status && n.Alertname == w.alert && closest == nil {
				closest = append([]string{n.Title}, p...)
			}
		}
		if !found {
			msg := fmt.Sprintf("%s: no %s", channel, w)
			if closest != nil {
				msg += fmt.Sprintf("; the nearest, %q: %s", closest[0], strings.Join(closest[1:], "; "))
			}
			out = append(out, msg)
		}
	}
	for i, n := range got {
		if !used[i] {
			out = append(out, fmt.Sprintf("%s: unexpected %s", channel, n))
		}
	}
	return out
}

// arrived reports whether every expected notification has come, judged
// by its kind alone (status, alertname, number firing): what it says is
// judged after the settle period.
func arrived(wants []want, got []note) bool {
	used := make([]bool, len(got))
	for _, w := range wants {
		found := false
		for i, n := range got {
			if !used[i] && n.Status == w.status && n.Alertname == w.alert && (w.firing == 0 || n.Firing == w.firing) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// summarise writes notes as "firing BackupFailed[3], resolved BackupFailed".
func summarise(notes []note) string {
	if len(notes) == 0 {
		return "none"
	}
	// Runs of the same kind are counted: "firing BackupFailed[1] ×500".
	var parts []string
	var prev string
	run := 0
	flush := func() {
		if run > 1 {
			parts = append(parts, fmt.Sprintf("%s ×%d", prev, run))
		} else if run == 1 {
			parts = append(parts, prev)
		}
	}
	for _, n := range notes {
		s := n.Status + " " + n.Alertname
		if n.Status == "" {
			s = fmt.Sprintf("%.60q", n.Title)
		}
		if n.Firing > 0 {
			s += fmt.Sprintf("[%d]", n.Firing)
		}
		if s != prev {
			flush()
			prev, run = s, 0
		}
		run++
	}
	flush()
	return strings.Join(parts, ", ")
}

func summariseWants(ws []want) string {
	if len(ws) == 0 {
		return "none"
	}
	var parts []string
	for _, w := range ws {
		parts = append(parts, w.String())
	}
	return strings.Join(parts, ", ")
}

// phase is one step of a scenario's timeline and what it must bring.
type phase struct {
	name string
	do   func()
	// slack and email are exactly the notifications expected, in any order.
	slack, email []want
	// bounded replaces the exact lists: check judges what came.
	bounded bool
	// until ends the wait instead of the expected counts (e.g. "the
	// exporter-down notification came"); the settle period follows.
	until func(slack, rejected, email []note) bool
	// check adds problems of its own.
	check func(slack, rejected, email []note) []string
	// noSettle: assert what came once until holds, without waiting more
	// (the next phase's settle covers the rest).
	noSettle bool
	// wantText describes a bounded phase's expectation for the summary.
	wantText string
}

// runner plays a scenario's phases on its stack.
type runner struct {
	t        *testing.T
	s        *stack
	scenario string
	hostRE   *regexp.Regexp
}

func (r *runner) phase(p phase) {
	r.t.Helper()
	s := r.s
	m := s.mark()
	r.t.Logf("phase %q", p.name)
	if p.do != nil {
		p.do()
	}
	done := func(sl, rej, em []note) bool {
		if p.until != nil {
			return p.until(sl, rej, em)
		}
		return arrived(p.slack, sl) && arrived(p.email, em)
	}
	var last string
	ok := poll(s.deadline, func() (bool, string) {
		sl, rej, em := s.since(m)
		return done(sl, rej, em), fmt.Sprintf("slack %s; email %s; prometheus %s", summarise(sl), summarise(em), s.promAlerts())
	}, &last)
	var problems []string
	if !ok {
		problems = append(problems, fmt.Sprintf("waited %v for the expected notifications; last seen: %s", s.deadline, last))
	}
	if !p.noSettle {
		time.Sleep(s.settle)
	}
	sl, rej, em := s.since(m)
	if !p.bounded {
		problems = append(problems, match("slack", p.slack, sl)...)
		problems = append(problems, match("email", p.email, em)...)
	}
	for _, n := range append(slices.Clone(sl), em...) {
		for _, q := range universal(n, r.hostRE) {
			problems = append(problems, fmt.Sprintf("%s %q %s", n.Channel, n.Title, q))
		}
	}
	if p.check != nil {
		problems = append(problems, p.check(sl, rej, em)...)
	}
	wantSlack, wantEmail := summariseWants(p.slack), summariseWants(p.email)
	if p.bounded {
		wantSlack, wantEmail = p.wantText, p.wantText
	}
	got := fmt.Sprintf("slack: %s", summarise(sl))
	if len(rej) > 0 {
		got += fmt.Sprintf(" (+%d answered 500)", len(rej))
	}
	record(row{r.scenario, p.name, "slack", summarise(sl), wantSlack, len(sl), len(rej), len(problems) == 0})
	record(row{r.scenario, p.name, "email", summarise(em), wantEmail, len(em), 0, len(problems) == 0})
	r.t.Logf("  got %s; email: %s", got, summarise(em))
	for _, q := range problems {
		r.t.Errorf("%s: %s", p.name, q)
	}
	if len(problems) > 0 {
		all := append(slices.Clone(sl), em...)
		for i, n := range all {
			if i == 6 {
				r.t.Logf("  ... and %d more", len(all)-i)
				break
			}
			r.t.Logf("  %s %q:\n    %.3000s", n.Channel, n.Title, strings.Join(n.Parts, "\n    ---\n    "))
		}
	}
}

// row is one line of the summary table.
type row struct {
	scenario, phase, channel, got, want string
	count, rejected                     int
	ok                                  bool
}

var summary struct {
	mu   sync.Mutex
	rows []row
}

func record(r row) {
	summary.mu.Lock()
	defer summary.mu.Unlock()
	summary.rows = append(summary.rows, r)
}

// printSummary logs the measured notifications of every scenario, and
// writes them to $BACKUPWATCH_INBOX_REPORT when that is set.
func printSummary(t *testing.T) {
	summary.mu.Lock()
	rows := slices.Clone(summary.rows)
	summary.mu.Unlock()
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].scenario < rows[j].scenario })
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\tphase\tchannel\tcount\tok\treceived\texpected")
	for _, r := range rows {
		ok := "ok"
		if !r.ok {
			ok = "FAIL"
		}
		count := fmt.Sprint(r.count)
		if r.rejected > 0 {
			count += fmt.Sprintf("+%d×500", r.rejected)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.scenario, r.phase, r.channel, count, ok, r.got, r.want)
	}
	w.Flush()
	t.Logf("notifications received per scenario and channel:\n%s", b.String())
	if f := os.Getenv("BACKUPWATCH_INBOX_REPORT"); f != "" {
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			t.Errorf("writing the report: %v", err)
		}
	}
}

// scenario is one timeline on a stack of its own.
type scenario struct {
	name   string
	opts   stackOptions
	hostRE *regexp.Regexp // names of this scenario's hosts, to count those named
	run    func(r *runner)
}

// hostNames returns prefix-001 ... prefix-NNN.
func hostNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i+1)
	}
	return out
}

func recordAll(hosts []string, args ...string) [][]string {
	var cmds [][]string
	for _, h := range hosts {
		cmds = append(cmds, append([]string{"record", "--host=" + h}, args...))
	}
	return cmds
}

// exitCodeRE matches an exit code's number as a notification may put it.
func exitCodeRE(code int) string {
	return fmt.Sprintf(`(?i)exit(ed)?( code| status)?[ :=]*%d\b`, code)
}

// repoDown is restic's last line when the repository server is gone.
const repoDown = "Fatal: unable to open config file: Stat: stat /srv/restic-repo/config: no such file or directory"

// statusLink is where a notification about host links: its host page.
func (s *stack) statusLink(host string) string {
	return s.serveURL + "/host/" + host
}

// count is how many notes are about alert in state status.
func count(notes []note, status, alert string) int {
	n := 0
	for _, x := range notes {
		if x.Status == status && x.Alertname == alert {
			n++
		}
	}
	return n
}

// notCritical fails every notification about a critical alert.
func (s *stack) notCritical(sl, _, em []note) []string {
	var out []string
	for _, n := range append(slices.Clone(sl), em...) {
		if s.severity[n.Alertname] == "critical" {
			out = append(out, fmt.Sprintf("%s: %q is about a critical alert (a page)", n.Channel, n.Title))
		}
	}
	return out
}

var base = []string{"db", "auth", "web"}

func scenarios() []scenario {
	var out []scenario

	out = append(out, scenario{
		name: "01-02 one host fails, then recovers",
		opts: stackOptions{hosts: base},
		run: func(r *runner) {
			s := r.s
			w := firing("BackupFailed", 1).titled("db").saying("db", repoDown).matching(exitCodeRE(10)).linking(s.statusLink("db"))
			r.phase(phase{name: "1 db fails", slack: []want{w}, email: []want{w},
				do: func() {
					s.bw("record", "--status=failed", "--host=db", "--exit-code=10", "--message="+repoDown)
				}})
			w = resolved("BackupFailed").titled("db").saying("db")
			r.phase(phase{name: "2 db recovers", slack: []want{w}, email: []want{w},
				do: func() { s.bw("record", "--status=success", "--host=db") }})
		},
	})

	for _, n := range []int{10, 500} {
		hosts := hostNames("node", n)
		// Issue 20: the whole fleet failing for one cause is a storm, one
		// BackupFailuresWidespread (its hosts' BackupFailed held back),
		// naming the cause, how many and the first hosts.
		w := firing("BackupFailuresWidespread", 1).saying(repoDown, fmt.Sprintf("%d hosts/jobs of %d", n, n))
		rw := resolved("BackupFailuresWidespread")
		if n <= maxNamedHosts {
			w = w.saying(hosts...)
		} else {
			w = w.saying("and more") // the first ten: recorded within a second, in any order
		}
		out = append(out, scenario{
			name: fmt.Sprintf("03 %d hosts fail at once", n),
			// Scaled less (a minute is 3 s): evaluating 500 alerts, each
			// description running a query, takes a second or more on a
			// busy machine, which no scaling shortens; at 1/60 that is
			// over the scaled group_wait (2 s), and Alertmanager would
			// send the first batch of 64 on its own. Both sizes alike.
			opts:   stackOptions{hosts: hosts, scale: 1.0 / 20},
			hostRE: regexp.MustCompile(`\bnode-\d{3}\b`),
			run: func(r *runner) {
				s := r.s
				r.phase(phase{name: fmt.Sprintf("%d fail (one cause)", n), slack: []want{w}, email: []want{w},
					do: func() {
						s.atOnce("failures", func() {
							s.bwAll(recordAll(hosts, "--status=failed", "--exit-code=1", "--message="+repoDown))
						}, n)
					}})
				_, _, took := s.ruleGroup("BackupFailed")
				r.t.Logf("the rule group evaluating BackupFailed for %d failing hosts took %v (group_wait here: %v)", n, took, s.groupWait)
				r.phase(phase{name: fmt.Sprintf("%d recover", n), slack: []want{rw}, email: []want{rw},
					do: func() {
						s.atOnce("recoveries", func() { s.bwAll(recordAll(hosts, "--status=success")) }, 0)
					}})
			},
		})
	}

	{
		hosts := hostNames("node", 20)
		var spread time.Duration
		out = append(out, scenario{
			name:   "04 hosts fail one by one",
			opts:   stackOptions{hosts: hosts},
			hostRE: regexp.MustCompile(`\bnode-\d{3}\b`),
			run: func(r *runner) {
				s := r.s
				// One at group_wait, then at most one per group interval
				// while the group changes, and the one after the last
				// failure (with a notification's own lag: one more).
				bound := func() int { return int((spread+s.groupInterval-1)/s.groupInterval) + 2 }
				// Issue 20: 20 hosts failing for one cause are a storm once 10
				// have (BackupFailuresWidespread); the first are told as
				// BackupFailed before that, one message per group interval,
				// and none after it.
				r.phase(phase{name: "20 fail over 3 group intervals", bounded: true,
					wantText: "firing BackupFailed, at most ⌈spread/group_interval⌉+1, then firing BackupFailuresWidespread, the last",
					do: func() {
						gap := 3 * s.groupInterval / time.Duration(len(hosts))
						start := time.Now()
						for _, h := range hosts {
							s.bw("record", "--status=failed", "--host="+h, "--exit-code=1", "--message="+repoDown)
							time.Sleep(gap)
						}
						spread = time.Since(start)
					},
					until: func(sl, _, em []note) bool {
						return count(sl, "firing", "BackupFailuresWidespread") > 0 && count(em, "firing", "BackupFailuresWidespread") > 0
					},
					check: func(sl, _, em []note) []string {
						var out []string
						for ch, ns := range map[string][]note{"slack": sl, "email": em} {
							if len(ns) > bound() {
								out = append(out, fmt.Sprintf("%s got %d notifications for %d hosts failing over %v, want at most %d (one per group interval until the storm)", ch, len(ns), len(hosts), spread.Round(time.Second), bound()))
							}
							if k := count(ns, "firing", "BackupFailuresWidespread"); k != 1 || ns[len(ns)-1].Alertname != "BackupFailuresWidespread" {
								out = append(out, fmt.Sprintf("%s: %d firing BackupFailuresWidespread (%s), want 1, the last", ch, k, summarise(ns)))
							}
							for _, n := range ns {
								if n.Status != "firing" || (n.Alertname != "BackupFailed" && n.Alertname != "BackupFailuresWidespread") {
									out = append(out, fmt.Sprintf("%s: unexpected %s", ch, n))
								}
							}
						}
						return out
					}})
				rw := resolved("BackupFailuresWidespread")
				r.phase(phase{name: "20 recover", slack: []want{rw}, email: []want{rw},
					do: func() {
						s.atOnce("recoveries", func() { s.bwAll(recordAll(hosts, "--status=success")) }, 0)
					}})
			},
		})
	}

	{
		hosts := append(slices.Clone(base), "files", "mail", "git", "wiki")
		failing := []string{"db", "auth", "web"}
		out = append(out, scenario{
			name: "05 the exporter stops while hosts fail",
			opts: stackOptions{hosts: hosts},
			run: func(r *runner) {
				s := r.s
				w := firing("BackupFailed", 3).saying(failing...)
				r.phase(phase{name: "3 of 7 fail", slack: []want{w}, email: []want{w},
					do: func() {
						s.atOnce("failures", func() {
							s.bwAll(recordAll(failing, "--status=failed", "--exit-code=1", "--message="+repoDown))
						}, 3)
					}})
				down := firing("BackupExporterDown", 1).matching(`\b7 hosts\b`, `\b3\b[^.]*fail`)
				arrived := func(sl, _, em []note) bool {
					return count(sl, "firing", "BackupExporterDown") > 0 && count(em, "firing", "BackupExporterDown") > 0
				}
				r.phase(phase{name: "serve stops", slack: []want{down}, email: []want{down}, until: arrived, noSettle: true,
					do: func() { s.serve.stop(r.t) }})
				up := resolved("BackupExporterDown")
				r.phase(phase{name: "serve starts again", slack: []want{up}, email: []want{up},
					do: func() { s.startServe() }})
			},
		})
	}

	out = append(out, scenario{
		name: "06 Vault becomes unreachable",
		opts: stackOptions{hosts: base},
		run: func(r *runner) {
			s := r.s
			w := firing("BackupStoreUnreachable", 1)
			r.phase(phase{name: "Vault stops", slack: []want{w}, email: []want{w},
				do: func() { s.vault.Stop(r.t) }})
			r.phase(phase{name: "Vault is back", slack: []want{resolved("BackupStoreUnreachable")}, email: []want{resolved("BackupStoreUnreachable")},
				do: func() { s.vault.Restart(r.t) }})
		},
	})

	out = append(out, scenario{
		name: "07 a new host has not reported yet",
		opts: stackOptions{hosts: base, expected: []string{"newhost"}},
		run: func(r *runner) {
			s := r.s
			w := firing("BackupStatusUnknown", 1).saying("newhost")
			// A warning: to Slack only (escalation, issue 20).
			r.phase(phase{name: "newhost expected, no record", slack: []want{w},
				until: func(sl, _, em []note) bool {
					return count(sl, "firing", "BackupStatusUnknown") > 0
				},
				check: s.notCritical})
		},
	})

	out = append(out, scenario{
		name: "08 the first restore test is not recorded yet",
		opts: stackOptions{hosts: base, noRestoreTest: true},
		run: func(r *runner) {
			s := r.s
			w := firing("RestoreTestOverdue", 1).saying("no restore test has been recorded yet")
			// A warning: to Slack only (escalation, issue 20).
			r.phase(phase{name: "fresh install", slack: []want{w},
				until: func(sl, _, em []note) bool {
					return count(sl, "firing", "RestoreTestOverdue") > 0
				},
				check: s.notCritical})
		},
	})

	out = append(out, scenario{
		name: "09 a restore test fails",
		opts: stackOptions{hosts: base},
		run: func(r *runner) {
			s := r.s
			notes := "restore of db to /srv/restore-test: /var/lib/postgresql/15/main/PG_VERSION missing"
			w := firing("RestoreTestFailed", 1).saying("db.golemtrust.am", "PG_VERSION missing")
			r.phase(phase{name: "the test fails", slack: []want{w}, email: []want{w},
				do: func() {
					s.bw("restore-test", "record", "--result=failed", "--host-tested=db.golemtrust.am", "--time-to-restore=47m", "--notes="+notes)
				}})
			r.phase(phase{name: "the next test passes", slack: []want{resolved("RestoreTestFailed")}, email: []want{resolved("RestoreTestFailed")},
				do: func() {
					s.bw("restore-test", "record", "--result=passed", "--host-tested=db.golemtrust.am", "--time-to-restore=40m")
				}})
		},
	})

	out = append(out, scenario{
		name: "10 Slack answers 500",
		opts: stackOptions{hosts: base, slackFailing: true},
		run: func(r *runner) {
			s := r.s
			w := firing("BackupFailed", 1).saying("db")
			r.phase(phase{name: "db fails, Slack down", email: []want{w},
				do: func() {
					s.bw("record", "--status=failed", "--host=db", "--exit-code=1", "--message="+repoDown)
				},
				until: func(_, rej, em []note) bool { return len(rej) > 0 && len(em) > 0 },
				check: func(_, rej, _ []note) []string {
					if len(rej) == 0 {
						return []string{"Alertmanager never tried Slack"}
					}
					return nil
				}})
			r.phase(phase{name: "Slack is back", slack: []want{w},
				do: func() { s.slack.failing.Store(false) }})
		},
	})

	out = append(out, hostileScenario())
	return out
}

// Hostile values recorded as a host's last error: each still gives a
// notification that arrives, bounded, with the value escaped.
var hostile = map[string]string{
	"h-newline":  "line one\nline two\r\nSubject: injected\r\n\r\n.\r\nQUIT\r\n",
	"h-markup":   `<script>alert(1)</script><b>bold</b> <a href="http://evil.example/">click</a> & "quoted" 'single'`,
	"h-template": `{{ template "email.default.html" . }} {{ .Alerts }} {{ end }} {{ range }} {{`,
	"h-utf8":     "caf\xc3\xa9 \xff\xfe\xc3\x28 \xed\xa0\x80 \x1b[31m red \x7f",
	"h-slack":    "<!channel> <!here> <@U012345> *bold* ```code``` <http://evil.example/|click here> :rotating_light: \"}]} \\u0000 \\",
	"h-long":     "Fatal: " + strings.Repeat("no such file or directory; ", 4000), // ~100 KB, under the kernel's argument limit
}

func hostileScenario() scenario {
	var hosts []string
	for h := range hostile {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	all := append(slices.Clone(hosts), "h-vault1mb")
	return scenario{
		name: "11 hostile messages",
		opts: stackOptions{hosts: append(slices.Clone(base), all...)},
		run: func(r *runner) {
			s := r.s
			w := firing("BackupFailed", len(all)).saying(all...)
			check := func(sl, _, em []note) []string {
				var out []string
				for _, n := range sl {
					for _, d := range n.Decoded {
						for _, bad := range []string{"<!channel>", "<!here>", "<@U012345>", "<http://evil.example/|"} {
							if strings.Contains(d, bad) {
								out = append(out, fmt.Sprintf("slack %q carries %q unescaped: Slack would act on it", n.Title, bad))
							}
						}
					}
				}
				for _, n := range em {
					for i, d := range n.Decoded {
						if n.Types[i] != "text/html" {
							continue // markup in plain text is only text
						}
						for _, bad := range []string{"<script>", `<a href="http://evil.example/">`} {
							if strings.Contains(d, bad) {
								out = append(out, fmt.Sprintf("email %q part %d carries %q unescaped", n.Title, i, bad))
							}
						}
					}
					head, _, _ := strings.Cut(n.Raw, "\r\n\r\n")
					if c := strings.Count("\r\n"+head, "\r\nSubject:"); c != 1 {
						out = append(out, fmt.Sprintf("email %q has %d Subject headers (a header injected?)", n.Title, c))
					}
				}
				return out
			}
			r.phase(phase{name: "7 hosts record hostile errors", slack: []want{w}, email: []want{w}, check: check,
				do: func() {
					s.atOnce("hostile failures", func() {
						var cmds [][]string
						for _, h := range hosts {
							cmds = append(cmds, []string{"record", "--status=failed", "--host=" + h, "--exit-code=1", "--message=" + hostile[h]})
						}
						s.bwAll(cmds)
						s.writeHostileRecord("h-vault1mb")
					}, len(all))
				}})
			if long := longestLine(s.serveMetrics()); long > 4096 {
				r.t.Errorf("the exporter serves a line of %d bytes: a recorded message is not bounded", long)
			}
			rw := resolved("BackupFailed").saying(all...)
			r.phase(phase{name: "they recover", slack: []want{rw}, email: []want{rw}, check: check,
				do: func() {
					s.atOnce("recoveries", func() { s.bwAll(recordAll(all, "--status=success")) }, 0)
				}})
		},
	}
}

// writeHostileRecord records host as failed through backupwatch, then
// rewrites its record in Vault, as a writer with access to the store
// could, with a message of about 1 MB made of every hostile value.
func (s *stack) writeHostileRecord(host string) {
	s.t.Helper()
	s.bw("record", "--status=failed", "--host="+host, "--exit-code=1", "--message=short")
	kv := s.vault.Client(s.t).KVv2("kv")
	path := "golemtrust/backup-status/" + host
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sec, err := kv.Get(ctx, path)
	if err != nil {
		s.t.Fatalf("reading %s from Vault: %v", path, err)
	}
	// Vault refuses a JSON string over 1 MiB as sent (escapes counted, its
	// default limit): this is about the most a record can hold.
	var chunk string
	for _, h := range []string{"h-newline", "h-markup", "h-template", "h-utf8", "h-slack"} {
		chunk += hostile[h]
	}
	enc, _ := json.Marshal(chunk)
	var b strings.Builder
	for range (1<<20 - 4096) / len(enc) {
		b.WriteString(chunk)
	}
	data := sec.Data
	data["message"] = b.String()
	if _, err := kv.Put(ctx, path, data); err != nil {
		s.t.Fatalf("writing %s to Vault: %v", path, err)
	}
}

func longestLine(s string) int {
	n := 0
	for l := range strings.Lines(s) {
		n = max(n, len(l))
	}
	return n
}

// TestInbox runs every scenario, each on a stack of its own, in parallel,
// then logs what was received per scenario and channel.
func TestInbox(t *testing.T) {
	t.Parallel()
	t.Cleanup(func() {
		printSummary(t)
		// One cause, one message: what 500 hosts failing at once send is
		// what 10 send.
		totals := map[string]int{}
		summary.mu.Lock()
		for _, r := range summary.rows {
			if strings.HasPrefix(r.scenario, "03 ") {
				totals[r.scenario+" "+r.channel] += r.count
			}
		}
		summary.mu.Unlock()
		for _, ch := range []string{"slack", "email"} {
			small, large := totals["03 10 hosts fail at once "+ch], totals["03 500 hosts fail at once "+ch]
			if small > 0 && large > 0 && small != large {
				t.Errorf("%s: 10 hosts failing at once and recovering sent %d notifications, 500 sent %d: the count grows with the fleet", ch, small, large)
			}
		}
	})
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			s := startStack(t, sc.opts)
			sc.run(&runner{t: t, s: s, scenario: sc.name, hostRE: sc.hostRE})
		})
	}
}
