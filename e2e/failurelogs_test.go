package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// failureLogs keeps what the parts of a failed test logged and received
// where a person can read it without hiding why the test failed.
//
// go test prints a failed test's output in one block, and its cleanups
// come last: when they printed every service's log, the assertion that
// failed sat thousands of lines above the end, and a CI that shows the
// end of the output (most do, one of ours shows a dozen lines) showed
// Slack's requests and not the failure. So each log goes to a file under
// $BACKUPWATCH_E2E_LOGS (default: a backupwatch-e2e directory in the
// system's temporary directory, kept after the run), the test's output
// gets one line per log (its path and its last line), and the failure
// stays near the end. BACKUPWATCH_E2E_LOGS=inline prints the logs in the
// output instead.
type failureLogs struct {
	t     logger
	names []string
	logs  []string
}

// logger is what failureLogs needs of a test.
type logger interface {
	Name() string
	Logf(format string, args ...any)
}

func newFailureLogs(t logger) *failureLogs { return &failureLogs{t: t} }

// add keeps one log under a name ("vault-1", "Slack webhook requests").
func (f *failureLogs) add(name, log string) {
	f.names = append(f.names, name)
	f.logs = append(f.logs, log)
}

// partsLogs is a failureLogs holding each part's log and, unless slack is
// nil, the requests the Slack webhook received: what every stack keeps.
func partsLogs(t logger, parts []*process, slack *slackStub) *failureLogs {
	f := newFailureLogs(t)
	for _, p := range parts {
		f.add(p.name, p.out.String())
	}
	if slack != nil {
		f.add("Slack webhook requests", slack.log.String())
	}
	return f
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// write writes the logs and says where they are.
func (f *failureLogs) write() {
	t := f.t
	inline := func() {
		for i, n := range f.names {
			t.Logf("=== %s:\n%s", n, tail(f.logs[i]))
		}
	}
	dest := os.Getenv("BACKUPWATCH_E2E_LOGS")
	if dest == "inline" {
		inline()
		return
	}
	if dest == "" {
		dest = filepath.Join(os.TempDir(), "backupwatch-e2e")
	}
	// The logs hold the test services' tokens (never a user's), and the
	// default directory is in a temporary directory others share: only
	// the user who ran the tests reads them.
	dir := filepath.Join(dest, unsafeName.ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Logf("cannot keep the logs (%v); here they are:", err)
		inline()
		return
	}
	var lines []string
	for i, n := range f.names {
		p := filepath.Join(dir, unsafeName.ReplaceAllString(n, "_")+".log")
		if err := os.WriteFile(p, []byte(f.logs[i]), 0o600); err != nil {
			lines = append(lines, fmt.Sprintf("%s: not kept (%v), its end: %s", n, err, lastLine(f.logs[i])))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s: %s (ends %q)", n, p, lastLine(f.logs[i])))
	}
	t.Logf("the parts' logs (BACKUPWATCH_E2E_LOGS=inline prints them here):\n\t%s", strings.Join(lines, "\n\t"))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

type logRecorder struct {
	name  string
	lines []string
}

func (r *logRecorder) Name() string { return r.name }
func (r *logRecorder) Logf(format string, args ...any) {
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

// TestFailureLogs: the logs go to files named for the test and the part,
// readable by their owner only, and the output gets one line per log, with
// its path and its last line.
func TestFailureLogs(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKUPWATCH_E2E_LOGS", dir)
	r := &logRecorder{name: "TestHA/sub case"}
	logs := newFailureLogs(r)
	logs.add("vault-1", "started\nleader elected\n")
	logs.add("Slack webhook requests", strings.Repeat("x", 100000))
	logs.write()
	for p, want := range map[string]os.FileMode{"TestHA_sub_case": os.ModeDir | 0o700, "TestHA_sub_case/vault-1.log": 0o600} {
		if fi, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		} else if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "TestHA_sub_case", "vault-1.log"))
	if err != nil || string(b) != "started\nleader elected\n" {
		t.Errorf("vault-1.log: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "TestHA_sub_case", "Slack_webhook_requests.log")); err != nil || len(b) != 100000 {
		t.Errorf("the Slack log: %d bytes, %v; want the whole 100000", len(b), err)
	}
	if len(r.lines) != 1 || strings.Count(r.lines[0], "\n") != 2 || !strings.Contains(r.lines[0], `(ends "leader elected")`) {
		t.Errorf("want one entry of a line per log, got %q", r.lines)
	}

	t.Setenv("BACKUPWATCH_E2E_LOGS", "inline")
	r.lines = nil
	logs.write()
	if len(r.lines) != 2 || !strings.Contains(r.lines[0], "leader elected") {
		t.Errorf("inline: %q", r.lines)
	}
}
