package nagios

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func ok(host string, age time.Duration) status.Record {
	return status.Record{Host: host, Status: status.Success, LastSuccess: now.Add(-age)}
}

func failed(host string, age time.Duration, inARow int64) status.Record {
	r := ok(host, age)
	r.Status, r.LastFailure, r.ConsecutiveFailures = status.Failed, now.Add(-time.Minute), &inARow
	return r
}

func passed(age time.Duration) *status.RestoreTest {
	return &status.RestoreTest{LastTest: now.Add(-age), Result: status.Passed, HostTested: "db"}
}

// judge judges r alone, as `status --host` does.
func judge(r status.Record, t Thresholds) Verdict {
	rep := statusview.Build(&fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{r}...)}, 0, now)
	return Judge(rep.Hosts[0], t, now)
}

// TestJudge: each record's state by the thresholds and what it holds.
func TestJudge(t *testing.T) {
	weekly, err := schedule.Interval(7*24*time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	job := ok("db", 3*24*time.Hour)
	job.Job, job.Schedule = "files", weekly
	lateJob := job
	lateJob.LastSuccess = now.Add(-8 * 24 * time.Hour)
	ahead := ok("db", -time.Minute)
	neverOK := status.Record{Host: "new", Status: status.Failed, LastFailure: now.Add(-time.Hour)}
	firstRun := status.Record{Host: "new", Status: status.Unknown, LastAttempt: now.Add(-5 * time.Minute)}
	noWhen := status.Record{Host: "odd", Status: status.Success, Problems: []string{"status is success but last_success is not established"}}
	// A run started 25 hours ago, a day after the last success.
	long := ok("db", 49*time.Hour)
	long.LastAttempt = now.Add(-25 * time.Hour)
	lenient := Thresholds{WarningAge: 100 * time.Hour, CriticalAge: 200 * time.Hour, CriticalFailures: 1}
	def := DefaultThresholds()
	fixed := Thresholds{WarningAge: time.Hour, CriticalAge: 2 * time.Hour, WarningFailures: 2, CriticalFailures: 4}
	for _, tc := range []struct {
		name       string
		r          status.Record
		t          Thresholds
		want       State
		why        string
		warn, crit float64
	}{
		{"fresh", ok("db", time.Hour), def, OK, "last success 1h ago", 86400, 172800},
		{"older than 24h", ok("db", 25*time.Hour), def, Warning, "last success 25h ago, more than 24h", 86400, 172800},
		{"older than 48h", ok("db", 49*time.Hour), def, Critical, "more than 2d", 86400, 172800},
		{"a success ahead of this clock", ahead, def, OK, "last success 0s ago", 86400, 172800},
		{"one failure", failed("db", 2*time.Hour, 1), def, Warning, "1 failure in a row", 86400, 172800},
		{"two failures in a row", failed("db", 2*time.Hour, 2), def, Critical, "2 failures in a row", 86400, 172800},
		{"failures counted by no one", failed("db", 2*time.Hour, 0), def, Warning, "1 failure in a row", 86400, 172800},
		{"never a success", neverOK, def, Critical, "never succeeded", 86400, 172800},
		{"a weekly job, 3 days old", job, def, OK, "last success 3d ago", 7 * 86400, 14 * 86400},
		{"a weekly job, 8 days old", lateJob, def, Warning, "more than 7d", 7 * 86400, 14 * 86400},
		{"fixed thresholds over the schedule", job, fixed, Critical, "more than 2h", 3600, 7200},
		{"fixed failure thresholds", failed("db", 10*time.Minute, 3), fixed, Warning, "3 failures in a row", 3600, 7200},
		{"running too long", long, lenient, Warning, "running for longer than its schedule allows", 360000, 720000},
		{"no record", status.Record{Host: "gone", Status: status.Unknown, NoRecord: true}, def, Unknown, "no record", 86400, 172800},
		{"store not reached", status.Record{Host: "db", Status: status.Unknown, Unread: true, Problems: []string{"store not reached"}}, def, Unknown, "not read", 86400, 172800},
		{"unreadable", status.Record{Host: "db", Status: status.Unknown, Problems: []string{"read db: malformed record"}}, def, Unknown, "malformed record", 86400, 172800},
		{"first run in progress", firstRun, def, Unknown, "first run is in progress", 86400, 172800},
		{"success, but when?", noWhen, def, Unknown, "when is not known", 86400, 172800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(tc.r, tc.t)
			if v.State != tc.want || !strings.Contains(v.Why, tc.why) {
				t.Errorf("%s %q, want %s with %q", v.State, v.Why, tc.want, tc.why)
			}
			if v.WarnAge != tc.warn || v.CritAge != tc.crit {
				t.Errorf("age thresholds %v;%v, want %v;%v", v.WarnAge, v.CritAge, tc.warn, tc.crit)
			}
		})
	}
}

// TestWorstWins: CRITICAL, then WARNING, then UNKNOWN, then OK; the
// restore tests count for the fleet only.
func TestWorstWins(t *testing.T) {
	unknown := status.Record{Host: "new", Status: status.Unknown, NoRecord: true}
	rt := passed(time.Hour)
	for _, tc := range []struct {
		name     string
		snap     fleet.Snapshot
		narrowed bool
		want     State
	}{
		{"all ok", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("a", time.Hour), ok("b", time.Hour)}...), RestoreTest: rt}, false, OK},
		{"unknown over ok", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("a", time.Hour), unknown}...), RestoreTest: rt}, false, Unknown},
		{"warning over unknown", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("a", 30*time.Hour), unknown}...), RestoreTest: rt}, false, Warning},
		{"critical over all", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{failed("a", time.Hour, 5), ok("b", 30*time.Hour), unknown}...), RestoreTest: rt}, false, Critical},
		{"no restore test", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("a", time.Hour)}...)}, false, Warning},
		{"restore test 91 days old", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("a", time.Hour)}...), RestoreTest: passed(91 * 24 * time.Hour)}, false, Warning},
		{"restore test failed", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("a", time.Hour)}...), RestoreTest: &status.RestoreTest{LastTest: now, Result: status.Failed}}, false, Critical},
		{"a job's restore test failed", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("a", time.Hour)}...), RestoreTest: rt, RestoreTestJobs: []status.RestoreTest{{Job: "pg", LastTest: now, Result: status.Failed}}}, false, Critical},
		{"narrowed: no restore test is fine", fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{ok("a", time.Hour)}...)}, true, OK},
		{"nothing to judge", fleet.Snapshot{RestoreTest: rt}, false, Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := JudgeAll(statusview.Build(&tc.snap, 0, now), DefaultThresholds(), tc.narrowed, now)
			if c.State != tc.want {
				t.Errorf("state %s, want %s: %+v", c.State, tc.want, c)
			}
		})
	}
}

// TestHostileText: restic's error line as a record may hold it (a "|",
// newlines, escapes, NUL, 10 kB) stays one bounded line of text, and the
// "|" stays the performance data's alone.
func TestHostileText(t *testing.T) {
	r := failed("db", time.Hour, 1)
	r.Message = "Fatal: a | b\nc\r\x00\x1b[31mred\x1b[0m\t" + strings.Repeat("x", 10<<10)
	var b bytes.Buffer
	c := JudgeAll(statusview.Build(&fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{r}...)}, 0, now), DefaultThresholds(), true, now)
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Count(out, "\n") != 1 || strings.Count(out, "|") != 1 || len(out) > 1024 {
		t.Fatalf("want one line of at most 1 kB with one |, got %d bytes:\n%q", len(out), out)
	}
	for _, bad := range []string{"\x00", "\x1b", "\r", "\t"} {
		if strings.Contains(out, bad) {
			t.Errorf("the output holds %q: %q", bad, out)
		}
	}
	if !strings.Contains(out, "Fatal: a / b cred") {
		t.Errorf("the message is not there, made safe: %q", out)
	}
}

// TestLongOutputBounded: a fleet in trouble lists MaxLines records and
// counts the rest.
func TestLongOutputBounded(t *testing.T) {
	var hosts []status.Record
	for i := range MaxLines + 150 {
		hosts = append(hosts, failed(fmt.Sprintf("h%03d", i), time.Hour, 3))
	}
	hosts = append(hosts, ok("fine", time.Hour))
	c := JudgeAll(statusview.Build(&fleet.Snapshot{Hosts: fleet.RecordsOf(hosts...), RestoreTest: passed(time.Hour)}, 0, now), DefaultThresholds(), false, now)
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 1+MaxLines+1 || lines[len(lines)-1] != "... and 150 more" {
		t.Errorf("%d lines, the last %q; want 1 + %d + \"... and 150 more\"", len(lines), lines[len(lines)-1], MaxLines)
	}
	if !strings.Contains(lines[0], "critical: h000, h001, h002 and 247 more") {
		t.Errorf("summary %q does not name the first three", lines[0])
	}
}

// TestPerfLabel: a label is quoted when it must be, a quote doubled.
func TestPerfLabel(t *testing.T) {
	v := 1.5
	for _, tc := range []struct {
		p    Perf
		want string
	}{
		{Perf{Label: "age", Value: &v, UOM: "s", Warn: "1", Crit: "2", Min: "0"}, "age=1.5s;1;2;0;"},
		{Perf{Label: "db@pg age", Value: &v}, "'db@pg age'=1.5;;;;"},
		{Perf{Label: "it's", Value: nil}, "'it''s'=U;;;;"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
}

// TestValidate refuses thresholds that contradict each other.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		t    Thresholds
		want string
	}{
		{DefaultThresholds(), ""},
		{Thresholds{WarningAge: 2 * time.Hour, CriticalAge: time.Hour, CriticalFailures: 1}, "more than --critical.age"},
		{Thresholds{WarningFailures: 3, CriticalFailures: 2}, "more than --critical.failures"},
		{Thresholds{WarningFailures: -1}, "0 or more"},
	} {
		err := tc.t.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.t, err, tc.want)
		}
	}
}

// TestCheckIsWorstVerdict: over generated fleets, the check's state is
// its worst record's (or the restore test's), the summary line says it,
// the counts add up to the records, and the first line holds one "|".
func TestCheckIsWorstVerdict(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 30).Draw(rt, "hosts")
		var hosts []status.Record
		for i := range n {
			name := fmt.Sprintf("h%d", i)
			age := time.Duration(rapid.IntRange(0, 100).Draw(rt, "age_hours")) * time.Hour
			switch rapid.IntRange(0, 4).Draw(rt, "kind") {
			case 0:
				hosts = append(hosts, ok(name, age))
			case 1:
				hosts = append(hosts, failed(name, age, int64(rapid.IntRange(0, 5).Draw(rt, "in_a_row"))))
			case 2:
				hosts = append(hosts, status.Record{Host: name, Status: status.Unknown, NoRecord: true})
			case 3:
				hosts = append(hosts, status.Record{Host: name, Status: status.Failed, LastFailure: now})
			case 4:
				hosts = append(hosts, status.Record{Host: name, Status: status.Unknown, Problems: []string{"malformed | record\n"}})
			}
		}
		narrowed := rapid.Bool().Draw(rt, "narrowed")
		snap := fleet.Snapshot{Hosts: fleet.RecordsOf(hosts...), RestoreTest: passed(time.Hour)}
		c := JudgeAll(statusview.Build(&snap, 0, now), DefaultThresholds(), narrowed, now)
		worst := OK
		if n == 0 {
			worst = Unknown
		}
		for _, v := range c.Verdicts {
			if v.State.Worse(worst) {
				worst = v.State
			}
		}
		if c.State != worst {
			rt.Fatalf("state %s, worst record %s", c.State, worst)
		}
		var b bytes.Buffer
		if err := c.Write(&b); err != nil {
			rt.Fatal(err)
		}
		first, _, _ := strings.Cut(b.String(), "\n")
		if !strings.HasPrefix(first, "BACKUP "+worst.String()+" - ") || strings.Count(first, "|") != 1 {
			rt.Fatalf("summary line %q: want BACKUP %s - ... with one |", first, worst)
		}
		if strings.Count(b.String(), "|") > 2 {
			rt.Fatalf("more than two | in the output:\n%s", b.String())
		}
	})
}
