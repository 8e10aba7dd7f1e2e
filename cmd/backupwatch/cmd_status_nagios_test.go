package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// The plugin guidelines' output (Nagios's and the monitoring-plugins'
// development guidelines): at most one summary line first, "SERVICE
// STATUS: text", its performance data after a "|"; long output lines
// after, and at most one more "|" after which every line is performance
// data. A datum is 'label'=value[UOM];[warn];[crit];[min];[max], the
// label quoted (a quote doubled) when it holds a space, "=" or a quote.
var (
	summaryRE = regexp.MustCompile(`^BACKUP (OK|WARNING|CRITICAL|UNKNOWN) - ([^|]+?)(?: \| (.*))?$`)
	numRE     = `-?[0-9]+(?:\.[0-9]+)?`
	rangeRE   = `(?:@?(?:` + numRE + `|~)?:?(?:` + numRE + `)?)`
	perfRE    = regexp.MustCompile(`^(?:'(?:[^']|'')+'|[^'= ]+)=(?:` + numRE + `(?:s|ms|us|%|B|KB|MB|GB|TB|c)?|U)(?:;` + rangeRE + `(?:;` + rangeRE + `(?:;(?:` + numRE + `)?(?:;(?:` + numRE + `)?)?)?)?)?$`)
	// A quoted label may hold spaces: split the data on the spaces outside quotes.
	perfSplitRE = regexp.MustCompile(`'(?:[^']|'')+'=\S*|\S+`)
)

// pluginOutput is a check's output as a monitoring system parses it.
type pluginOutput struct {
	state   string
	summary string
	perf    []string // every datum, the summary line's and the long ones'
	long    []string // the lines of long text
}

// parsePluginOutput parses out by the guidelines and fails t on any
// departure from them.
func parsePluginOutput(t *testing.T, out string) pluginOutput {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the output does not end with a newline: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	m := summaryRE.FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("summary line %q is not %q", lines[0], summaryRE)
	}
	p := pluginOutput{state: m[1], summary: m[2]}
	datums := func(s string) {
		for _, d := range perfSplitRE.FindAllString(s, -1) {
			if !perfRE.MatchString(d) {
				t.Errorf("performance datum %q is not 'label'=value[UOM];[warn];[crit];[min];[max]", d)
			}
			p.perf = append(p.perf, d)
		}
	}
	datums(m[3])
	inPerf := false
	for _, l := range lines[1:] {
		switch {
		case l == "":
			t.Errorf("an empty line in the output:\n%s", out)
		case inPerf:
			if strings.Contains(l, "|") {
				t.Errorf("a second | in the long output: %q", l)
			}
			datums(l)
		default:
			text, perf, found := strings.Cut(l, "|")
			if found {
				inPerf = true
				datums(perf)
				if strings.TrimSpace(text) == "" {
					continue
				}
			}
			p.long = append(p.long, text)
		}
	}
	return p
}

// perfHas reports whether perf holds the datum want, in which "~N" is an
// age of at least N seconds and less than N+300: the records were dated
// back from the test's clock, and seconds pass before the check.
func perfHas(perf []string, want string) bool {
	label, rest, _ := strings.Cut(want, "=~")
	for _, d := range perf {
		if rest == "" {
			if d == want {
				return true
			}
			continue
		}
		l, v, _ := strings.Cut(d, "=")
		num, tail, _ := strings.Cut(v, "s;")
		wantNum, wantTail, _ := strings.Cut(rest, "s;")
		n, err1 := strconv.Atoi(num)
		w, err2 := strconv.Atoi(wantNum)
		if l == label && tail == wantTail && err1 == nil && err2 == nil && n >= w && n < w+300 {
			return true
		}
	}
	return false
}

// TestStatusNagios checks `status --format=nagios` in every state against
// the guidelines' output, with real records in the local store: the exit
// code is the state, the summary says why, the performance data are in
// the guidelines' format.
func TestStatusNagios(t *testing.T) {
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "records")
	s := "--store.dir=" + storeDir
	ago := func(d time.Duration) string { return "--at=" + time.Now().Add(-d).UTC().Format(time.RFC3339) }
	for _, args := range [][]string{
		{"record", "--status=success", "--host=fresh", ago(time.Hour)},
		{"record", "--status=success", "--host=late", ago(30 * time.Hour)},
		{"record", "--status=success", "--host=stale", ago(50 * time.Hour)},
		{"record", "--status=success", "--host=once", ago(5 * time.Hour)},
		{"record", "--status=failed", "--host=once", ago(2 * time.Hour), "--message=repository is locked | exit 1"},
		{"record", "--status=success", "--host=twice", ago(5 * time.Hour)},
		{"record", "--status=failed", "--host=twice", ago(3 * time.Hour)},
		{"record", "--status=failed", "--host=twice", ago(2 * time.Hour), "--message=no space left\non device"},
		{"record", "--status=success", "--host=weekly", "--job=files", "--every=7d", ago(3 * 24 * time.Hour)},
		{"restore-test", "record", "--result=passed", "--host-tested=fresh", "--time-to-restore=4m"},
	} {
		if code, _, errOut := cli(t, append([]string{s}, args...)...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	// A record no tool could read.
	if err := os.WriteFile(filepath.Join(storeDir, "garbled.json"), []byte("{\"status\": \"success\", \x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		want     int
		state    string
		summary  []string // in the summary line
		perf     []string // performance data, each one exactly
		long     []string // in the long output
		notInOut []string
	}{
		{"ok", []string{"--host=fresh"}, 0, "OK", []string{"fresh: last success 1h"}, []string{"age=~3600s;86400;172800;0;", "failures=0;0;1;0;"}, nil, nil},
		{"warning: older than 24h", []string{"--host=late"}, 1, "WARNING", []string{"late: last success 30h", "more than 24h"}, []string{"age=~108000s;86400;172800;0;"}, nil, nil},
		{"critical: older than 48h", []string{"--host=stale"}, 2, "CRITICAL", []string{"stale: last success 2d2h", "more than 2d"}, []string{"age=~180000s;86400;172800;0;"}, nil, nil},
		{"warning: one failure", []string{"--host=once"}, 1, "WARNING", []string{"once: last success 5h", "1 failure in a row: repository is locked / exit 1"}, []string{"failures=1;0;1;0;"}, nil, nil},
		{"critical: two failures in a row", []string{"--host=twice"}, 2, "CRITICAL", []string{"2 failures in a row: no space left on device"}, []string{"failures=2;0;1;0;"}, nil, nil},
		{"thresholds as flags", []string{"--host=twice", "--warning.failures=2", "--critical.failures=5", "--warning.age=1h", "--critical.age=10h"}, 1, "WARNING", []string{"last success 5h", "more than 1h"}, []string{"age=~18000s;3600;36000;0;", "failures=2;2;5;0;"}, nil, nil},
		{"a weekly job by its schedule", []string{"--host=weekly", "--job=files"}, 0, "OK", []string{"weekly@files: last success 3d"}, []string{"age=~259200s;604800;1209600;0;"}, nil, nil},
		{"a job across the fleet", []string{"--job=files"}, 0, "OK", []string{"weekly@files"}, nil, nil, nil},
		{"unknown host", []string{"--host=nosuch"}, 3, "UNKNOWN", []string{"nosuch: no record"}, []string{"age=U;86400;172800;0;"}, nil, nil},
		{"unknown job of a known host", []string{"--host=fresh", "--job=nightly"}, 3, "UNKNOWN", []string{"fresh@nightly: no record"}, nil, nil, nil},
		{"unreadable record", []string{"--host=garbled"}, 3, "UNKNOWN", []string{"garbled: no result to judge", "malformed record"}, nil, nil, []string{"\x00"}},
		{"the fleet: the worst wins, counted", nil, 2, "CRITICAL", []string{"7 backups: 2 critical, 2 warning, 1 unknown, 2 ok", "critical: stale, twice", "warning: late, once", "unknown: garbled"},
			[]string{"ok=2;;;0;7", "warning=2;;;0;7", "critical=2;;;0;7", "unknown=1;;;0;7"},
			[]string{"CRITICAL stale: last success 2d2h", "UNKNOWN garbled:"}, []string{"OK fresh"}},
		{"several records named: each with its data", []string{"--host=fresh", "--host=late"}, 1, "WARNING", []string{"2 backups: 0 critical, 1 warning, 0 unknown, 1 ok"},
			[]string{"'fresh age'=~3600s;86400;172800;0;", "'late failures'=0;0;1;0;"}, []string{"OK fresh: last success 1h", "WARNING late:"}, nil},
		{"bad threshold", []string{"--warning.age=3h", "--critical.age=2h"}, 3, "UNKNOWN", []string{"--warning.age 3h0m0s is more than --critical.age 2h0m0s"}, nil, nil, nil},
		{"--max-age is not a threshold", []string{"--max-age=2h"}, 3, "UNKNOWN", []string{"--max-age is for the table and json"}, nil, nil, nil},
		{"a flag refused by the parser", []string{"--warning.age=soon"}, 3, "UNKNOWN", []string{"invalid duration"}, nil, nil, nil},
		{"a job name refused", []string{"--job=../x"}, 3, "UNKNOWN", []string{"job name"}, nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cli(t, append([]string{s, "status", "--format=nagios"}, tc.args...)...)
			if code != tc.want {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.want, out, errOut)
			}
			p := parsePluginOutput(t, out)
			if p.state != tc.state {
				t.Errorf("state %s, want %s: %q", p.state, tc.state, out)
			}
			for _, w := range tc.summary {
				if !strings.Contains(p.summary, w) {
					t.Errorf("summary %q lacks %q", p.summary, w)
				}
			}
			for _, w := range tc.perf {
				if !perfHas(p.perf, w) {
					t.Errorf("performance data %q lack %q", p.perf, w)
				}
			}
			long := strings.Join(p.long, "\n")
			for _, w := range tc.long {
				if !strings.Contains(long, w) {
					t.Errorf("long output lacks %q:\n%s", w, long)
				}
			}
			for _, w := range tc.notInOut {
				if strings.Contains(out, w) {
					t.Errorf("output holds %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestStatusNagiosStore: a check that cannot read the store is UNKNOWN
// (3) and says why, on stdout where the monitoring system reads it;
// the token is in no output.
func TestStatusNagiosStore(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	if code, _, errOut := cli(t, "--vault.address="+v.Addr, "record", "--status=success", "--host=db"); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	if code, out, errOut := cli(t, "--vault.address="+v.Addr, "status", "-o", "nagios", "--host=db", "--critical.age=1h", "--warning.age=30m"); code != 0 || !strings.HasPrefix(out, "BACKUP OK - db: ") {
		t.Fatalf("status of db in Vault: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	const token = "hvs.not-a-real-token-0123456789"
	for _, tc := range []struct {
		name, why string
		args      []string
	}{
		{"refused token", "token rejected", []string{"--vault.address=" + v.Addr, "--vault.timeout=5s"}},
		{"no Vault there", "connection refused", []string{"--vault.address=http://127.0.0.1:1", "--vault.timeout=5s"}},
		{"no store directory", "does not exist", []string{"--store.dir=" + filepath.Join(t.TempDir(), "typo")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VAULT_TOKEN", token)
			code, out, errOut := cli(t, append(tc.args, "status", "--format", "nagios", "--host=db")...)
			if code != 3 {
				t.Errorf("exit %d, want 3\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			p := parsePluginOutput(t, out)
			if p.state != "UNKNOWN" || !strings.Contains(p.summary, tc.why) {
				t.Errorf("state %s, summary %q; want UNKNOWN saying %q", p.state, p.summary, tc.why)
			}
			if strings.Contains(out+errOut, token) {
				t.Errorf("the token is in the output:\nstdout: %s\nstderr: %s", out, errOut)
			}
		})
	}
}

// TestStatusJob: --job narrows the table too, and a named host's job
// with no record is shown as unknown.
func TestStatusJob(t *testing.T) {
	s := "--store.dir=" + t.TempDir()
	for _, args := range [][]string{
		{"record", "--status=success", "--host=db"},
		{"record", "--status=success", "--host=db", "--job=pg"},
		{"record", "--status=success", "--host=web", "--job=files"},
	} {
		if code, _, errOut := cli(t, append([]string{s}, args...)...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	code, out, errOut := cli(t, s, "status", "--job=pg")
	if code != exitOK || !strings.Contains(out, "db@pg") || strings.Contains(out, "web@files") || strings.Contains(out, "\ndb ") {
		t.Errorf("status --job=pg: exit %d, want 0 and db@pg alone\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, errOut = cli(t, s, "status", "--host=web", "--job=pg")
	if code != exitUnhealthy || !strings.Contains(out, "web@pg") || !strings.Contains(out, "unknown") {
		t.Errorf("status --host=web --job=pg: exit %d, want 3 and web@pg unknown\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if code, _, errOut := cli(t, s, "status", "--warning.age=1h"); code != exitUsage || !strings.Contains(errOut, "--format=nagios") {
		t.Errorf("a threshold with the table: exit %d, stderr %q; want 2 and why", code, errOut)
	}
}

// TestQuietCheck: a check logs errors only (Icinga 2 reads standard error
// with the output), unless --log.level says otherwise.
func TestQuietCheck(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--format=nagios"}, "error"},
		// As the parser left it: the operator's level stands.
		{[]string{"status", "--format=nagios", "--log.level=debug"}, "info"},
		{[]string{"status", "--format=nagios", "--log.level", "warn"}, "info"},
	} {
		cfg := promslog.Config{Level: promslog.NewLevel()}
		quietCheck(tc.args, &cfg)
		if got := cfg.Level.String(); got != tc.want {
			t.Errorf("%v: level %s, want %s", tc.args, got, tc.want)
		}
	}
}
