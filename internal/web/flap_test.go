package web

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestHostPageFlappingAndPaused: the host page of a host whose history
// alternates says it flaps, how often its outcome changed and how many of
// its runs failed, by the measure BackupFlapping uses; a host failing now
// and then over days does not flap; the page of a paused host, and of a
// job paused on its own, says until when and why (issue 20 item 3).
func TestHostPageFlappingAndPaused(t *testing.T) {
	snap := realisticFleet(t)
	now := func() time.Time { return testNow }
	srv := httptest.NewServer(NewHost(HostOptions{Source: realisticStore(t), Snapshot: func() *fleet.Snapshot { return snap }, Now: now}))
	defer srv.Close()
	for path, want := range map[string][]string{
		"/host/ci":       {"Flapping: its outcome changed 6 times between failed and succeeded in the last 6 h; 3 of its last 6 runs failed.", "BackupFlapping"},
		"/host/nas":      {"Paused until 2026-11-25 17:00:00 UTC (in 5 h): its alerts are held back. Reason: disk replacement in the NAS, ticket OPS-1234"},
		"/host/db/image": {"Paused until 2026-11-28 12:00:00 UTC (in 3 d): its alerts are held back. Reason: image job moved to the new hypervisor"},
	} {
		code, body, _ := getPage(t, srv.URL+path)
		text := pageText(t, body)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, code, text)
		}
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%.1500s", path, w, text[strings.Index(text, "time{"):])
			}
		}
		if path != "/host/ci" && strings.Contains(text, "Flapping") {
			t.Errorf("%s says it flaps:\n%s", path, text)
		}
	}
	// db fails every fifth day: not flapping, and not paused.
	_, body, _ := getPage(t, hostServer(t).URL+"/host/db")
	if text := pageText(t, body); strings.Contains(text, "Flapping") || strings.Contains(text, "Paused") {
		t.Errorf("/host/db:\n%s", text)
	}
}

// TestFlappingMeasure: the page counts as the rule does, changes() of the
// status over 6 hours, at least 3; the rule still says so.
func TestFlappingMeasure(t *testing.T) {
	rules, err := os.ReadFile("../../deploy/prometheus/backup.yml")
	if err != nil {
		t.Fatal(err)
	}
	if want := `changes(backup_status{status="failed"}[` + strconv.Itoa(int(flapWindow.Hours())) + `h])) >= ` + strconv.Itoa(flapChanges); !strings.Contains(string(rules), want) {
		t.Errorf("BackupFlapping no longer measures %s: change flapWindow and flapChanges with it", want)
	}
	run := func(ago time.Duration, outcome string) status.Entry {
		return status.Entry{At: testNow.Add(-ago), Outcome: outcome}
	}
	s, f := status.Success, status.Failed
	for _, c := range []struct {
		name    string
		entries []status.Entry
		want    string
	}{
		{"none", nil, ""},
		{"two changes", []status.Entry{run(3*time.Hour, s), run(2*time.Hour, f), run(time.Hour, s)}, ""},
		{"the change into the window counts", []status.Entry{run(7*time.Hour, f), run(3*time.Hour, s), run(2*time.Hour, f), run(time.Hour, s)}, "changed 3 times between failed and succeeded in the last 6 h; 1 of its last 3 runs failed"},
		{"changes before the window do not", []status.Entry{run(9*time.Hour, f), run(8*time.Hour, s), run(7*time.Hour, f), run(2*time.Hour, s), run(time.Hour, f)}, ""},
		{"a run dated ahead is no evidence", []status.Entry{run(3*time.Hour, s), run(2*time.Hour, f), run(time.Hour, s), run(-time.Hour, f)}, ""},
	} {
		if got := flapping(c.entries, testNow); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
