package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return testNow.Add(-d) }

func i64(n int64) *int64 { return &n }

func options() Options { return Options{Now: func() time.Time { return testNow }} }

// TestStateOf: every host is in exactly one state, the one its worst
// current condition gives, with the colour and words the alerts use.
func TestStateOf(t *testing.T) {
	tests := []struct {
		name           string
		rec            status.Record
		state, colour  string
		headline       string
		wantAgeSeconds int64
	}{
		{"failed, success an hour ago (issue 8: was a green tile)", status.Record{Status: status.Failed, LastSuccess: ago(time.Hour), LastFailure: ago(time.Minute)},
			Failed, "red", "last backup failed", 3600},
		{"failed three times, never succeeded", status.Record{Status: status.Failed, LastFailure: ago(time.Minute), ConsecutiveFailures: i64(3)},
			Failed, "red", "last backup failed, 3 times in a row; has never recorded a successful backup", testNow.Unix()},
		{"success now", status.Record{Status: status.Success, LastSuccess: testNow},
			OK, "green", "last success 0 s ago", 0},
		{"success exactly 24 h ago (the alert is > 86400)", status.Record{Status: status.Success, LastSuccess: ago(86400 * time.Second)},
			OK, "green", "last success 24 h ago", 86400},
		{"success 24 h 1 s ago", status.Record{Status: status.Success, LastSuccess: ago(86401 * time.Second)},
			Overdue, "amber", "no successful backup for 24 h", 86401},
		{"success 30 h ago", status.Record{Status: status.Success, LastSuccess: ago(30 * time.Hour)},
			Overdue, "amber", "no successful backup for 30 h", 108000},
		{"success 48 h ago", status.Record{Status: status.Success, LastSuccess: ago(48 * time.Hour)},
			Overdue, "red", "no successful backup for 48 h", 172800},
		{"success 40 days ago", status.Record{Status: status.Success, LastSuccess: ago(40 * 24 * time.Hour)},
			Overdue, "red", "no successful backup for 40 d", 3456000},
		{"says success, no time", status.Record{Status: status.Success},
			Overdue, "red", "says success but has no time of a successful backup: counted as never", testNow.Unix()},
		{"success 10 years ahead", status.Record{Status: status.Success, LastSuccess: testNow.AddDate(10, 0, 0)},
			Overdue, "red", "in the future (a wrong clock or record): counted as never", testNow.Unix()},
		{"success four minutes ahead (a fast clock, within record's 5 minutes)", status.Record{Status: status.Success, LastSuccess: testNow.Add(4 * time.Minute)},
			OK, "green", "last success 4 min in the future", -240},
		{"never reported", status.Record{Status: status.Unknown, Problems: []string{"no record"}},
			Unknown, "grey", "never reported a backup", testNow.Unix()},
		{"not read: store never reached", status.Record{Status: status.Unknown, Unread: true},
			Unknown, "grey", "not read yet", testNow.Unix()},
		{"status not understood, success recent", status.Record{Status: status.Unknown, RawStatus: "weird", LastSuccess: ago(time.Hour)},
			Unknown, "grey", `status "weird" not understood`, 3600},
		{"status missing, failure recorded", status.Record{Status: status.Unknown, LastFailure: ago(time.Hour)},
			Unknown, "grey", "no backup status recorded", testNow.Unix()},
		{"status unknown, success 30 h ago: overdue is worse", status.Record{Status: status.Unknown, RawStatus: "weird", LastSuccess: ago(30 * time.Hour)},
			Overdue, "amber", "no successful backup for 30 h", 108000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.Host = "h"
			got := tile(&tt.rec, testNow)
			if got.State != tt.state || got.Colour != tt.colour || !strings.Contains(got.Headline, tt.headline) || got.AgeSeconds != tt.wantAgeSeconds {
				t.Errorf("got %s/%s %q age %d, want %s/%s containing %q age %d", got.State, got.Colour, got.Headline, got.AgeSeconds, tt.state, tt.colour, tt.headline, tt.wantAgeSeconds)
			}
			if got.ID != "host-h" {
				t.Errorf("id %q, want host-h", got.ID)
			}
		})
	}
}

// fleetOf builds n hosts: the first failed, then overdue, unknown, ok.
func fleetOf(failed, overdue, unknown, ok int) *fleet.Snapshot {
	snap := &fleet.Snapshot{LastSuccess: ago(10 * time.Second), Listed: true}
	var hosts []status.Record
	add := func(n int, prefix string, r status.Record) {
		for i := 0; i < n; i++ {
			r.Host = fmt.Sprintf("%s-%04d", prefix, i)
			hosts = append(hosts, r)
		}
	}
	// Names sorted against the state order, so the page has to reorder.
	add(ok, "a-ok", status.Record{Status: status.Success, LastSuccess: ago(2 * time.Hour)})
	add(unknown, "b-unknown", status.Record{Status: status.Unknown, Problems: []string{"no record"}})
	add(overdue, "c-overdue", status.Record{Status: status.Success, LastSuccess: ago(30 * time.Hour)})
	// Failed with a recent success: in the old page, green and counted
	// both as failed and "within 25 h".
	add(failed, "d-failed", status.Record{Status: status.Failed, LastSuccess: ago(3 * time.Hour), LastFailure: ago(time.Hour), ExitCode: i64(1), Message: "Fatal: unable to open repository"})
	snap.Hosts = fleet.RecordsOf(hosts...)
	return snap
}

// TestSummaryBuckets: the summary's buckets are disjoint and add up to the
// host count (issue 8's 35 hosts added up to 39).
func TestSummaryBuckets(t *testing.T) {
	body := get(t, New(Options{Snapshot: func() *fleet.Snapshot { return fleetOf(2, 3, 1, 29) }, Now: options().Now}), "/")
	m := regexp.MustCompile(`(?s)<p class="summary" data-summary>(.*?)</p>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no summary in:\n%s", body)
	}
	got := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], "")
	if want := "35 hosts: 2 failed, 3 overdue, 1 unknown, 29 ok."; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}

	// Any mix: each host in exactly one section, the sections adding up.
	v := Build(hostileSnapshot(), options(), "")
	seen := map[string]int{}
	total := 0
	for _, s := range v.Sections {
		for _, tl := range s.All {
			seen[tl.Host]++
			if tl.State != s.State {
				t.Errorf("host %q of state %s in section %s", tl.Host, tl.State, s.State)
			}
		}
		total += len(s.All)
	}
	if total != v.Hosts || total != hostileSnapshot().Hosts.Len() {
		t.Errorf("sections hold %d tiles, the view counts %d hosts, the snapshot has %d", total, v.Hosts, hostileSnapshot().Hosts.Len())
	}
	for h, n := range seen {
		if n != 1 {
			t.Errorf("host %q shown %d times", h, n)
		}
	}
}

// TestOrder: problems first (failed, overdue, unknown, ok), within a state
// the worst colour first, then by name.
func TestOrder(t *testing.T) {
	snap := &fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{
		{Host: "a-fresh", Status: status.Success, LastSuccess: ago(time.Hour)},
		{Host: "b-old", Status: status.Success, LastSuccess: ago(30 * time.Hour)},
		{Host: "c-failed", Status: status.Failed, LastSuccess: ago(2 * time.Hour)},
		{Host: "d-unknown", Status: status.Unknown},
		{Host: "e-failed-never", Status: status.Failed},
		{Host: "f-oldest", Status: status.Success, LastSuccess: ago(50 * time.Hour)},
		{Host: "g-older", Status: status.Success, LastSuccess: ago(49 * time.Hour)},
		{Host: "h-fresh", Status: status.Success, LastSuccess: ago(5 * time.Hour)},
	}...), LastSuccess: testNow}
	v := Build(snap, options(), "")
	var got []string
	for _, s := range v.Sections {
		for _, tl := range s.All {
			got = append(got, tl.Host+"/"+tl.Colour)
		}
	}
	want := "c-failed/red e-failed-never/red f-oldest/red g-older/red b-old/amber d-unknown/grey a-fresh/green h-fresh/green"
	if strings.Join(got, " ") != want {
		t.Errorf("tiles = %v\nwant    %v", strings.Join(got, " "), want)
	}
}

func TestSpan(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 s"},
		{59 * time.Second, "59 s"},
		{time.Minute, "1 min"},
		{59*time.Minute + 59*time.Second, "59 min"},
		{3 * time.Hour, "3 h"},
		{3*time.Hour + 20*time.Minute, "3 h 20 min"},
		{30*time.Hour + 5*time.Minute, "30 h 5 min"},
		{50*time.Hour + 5*time.Minute, "50 h"},
		{5*24*time.Hour + 2*time.Hour, "5 d 2 h"},
		{40 * 24 * time.Hour, "40 d"},
		{20784 * 24 * time.Hour, "56 years"},
		{-time.Hour, "1 h"},
	}
	for _, tt := range tests {
		if got := span(tt.d); got != tt.want {
			t.Errorf("span(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestWhen: times are relative, the absolute time kept for the hover.
func TestWhen(t *testing.T) {
	tests := []struct {
		at       time.Time
		rel, abs string
	}{
		{time.Time{}, "", ""},
		{ago(3 * time.Hour), "3 h ago", "2026-11-25 09:00:00 UTC"},
		{testNow.Add(4 * time.Minute), "4 min in the future", "2026-11-25 12:04:00 UTC"},
		{testNow.Add(2 * time.Hour), "2 h in the future (a wrong clock or record)", "2026-11-25 14:00:00 UTC"},
		{testNow.AddDate(10, 0, 0), "10 years in the future (a wrong clock or record)", "2036-11-25 12:00:00 UTC"},
		{ago(time.Hour).In(time.FixedZone("X", 3600)), "1 h ago", "2026-11-25 11:00:00 UTC"},
	}
	for _, tt := range tests {
		got := when(tt.at, testNow)
		if got.Rel != tt.rel || got.Abs != tt.abs {
			t.Errorf("when(%v) = %q / %q, want %q / %q", tt.at, got.Rel, got.Abs, tt.rel, tt.abs)
		}
	}
}

// TestClean: free text from a record is one bounded, valid, inert line.
func TestClean(t *testing.T) {
	mb := strings.Repeat("x", 4<<20)
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"plain", "Fatal: unable to open repository", "Fatal: unable to open repository", 300},
		{"newlines and tabs", "line one\n\tline two\r\nline three\n", "line one line two line three", 300},
		{"control characters", "a\x00b\x1bc\x7f", "a b c", 300},
		{"bidi override", "abc\u202edcba\u2066x", "abc dcba x", 300},
		{"invalid UTF-8", "ok \xff\xfe bad", "ok \uFFFD\uFFFD bad", 300},
		{"cut", "abcdefghij", "abcde…", 5},
		{"cut counts runes, not bytes", "ééééééé", "ééé…", 3},
		{"megabytes", mb, strings.Repeat("x", 300) + "…", 300},
		{"megabytes of spaces", strings.Repeat(" \n", 2<<20) + "x", "…", 300},
		{"markup stays text (the template escapes it)", `<script>alert(1)</script>`, `<script>alert(1)</script>`, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := oneLine(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("oneLine = %q, want %q", trunc(got), trunc(tt.want))
			}
			if !utf8.ValidString(got) {
				t.Errorf("oneLine = %q: not valid UTF-8", got)
			}
		})
	}
	if got, want := lines("one\ntwo\x00three\n\n", 100), "one\ntwo three"; got != want {
		t.Errorf("lines = %q, want %q", got, want)
	}
	if got := lines(strings.Repeat("a\n", 100), 1000); strings.Count(got, "\n") != maxLines-1 || !strings.HasSuffix(got, "…") {
		t.Errorf("lines of 100 lines = %q, want %d lines and …", got, maxLines)
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

func TestRestoreView(t *testing.T) {
	mins := 47.0
	tests := []struct {
		name          string
		rt            *status.RestoreTest
		state, colour string
		text          []string
	}{
		{"never", nil, "never", "grey", []string{"No restore test has been recorded yet."}},
		{"passed", &status.RestoreTest{Result: status.Passed, LastTest: ago(10 * 24 * time.Hour), HostTested: "db", TimeToRestoreMinutes: &mins},
			"passed", "green", []string{"passed", "Tested 10 d ago", "restoring db in 47 min"}},
		{"passed but over 90 days old", &status.RestoreTest{Result: status.Passed, LastTest: ago(91 * 24 * time.Hour)},
			"overdue", "amber", []string{"over 90 days old", "Tested 91 d ago"}},
		{"failed, says what", &status.RestoreTest{Result: status.Failed, LastTest: ago(2 * time.Hour), Notes: "/etc/shadow missing from the restore\nchecksum mismatch on /var/lib/db"},
			"failed", "red", []string{"failed", "What failed: /etc/shadow missing from the restore checksum mismatch on /var/lib/db"}},
		{"result not understood", &status.RestoreTest{Result: status.Unknown, Problems: []string{"result: missing", "last_test: not established"}},
			"unknown", "red", []string{"not recorded or not understood", "Date not established.", "result: missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := fleetOf(0, 0, 0, 1)
			snap.RestoreTest = tt.rt
			v := Build(snap, options(), "")
			if v.Restore.State != tt.state || v.Restore.Colour != tt.colour {
				t.Errorf("restore %s/%s, want %s/%s", v.Restore.State, v.Restore.Colour, tt.state, tt.colour)
			}
			body := get(t, New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: options().Now}), "/")
			plain := elementText(t, body, "data-restore-result")
			for _, w := range tt.text {
				if !strings.Contains(plain, w) {
					t.Errorf("restore test text %q lacks %q", plain, w)
				}
			}
		})
	}
}

// TestQuery: /?q= filters on the server too, so it works without script,
// and keeps every tile in the page for the script to show again.
func TestQuery(t *testing.T) {
	snap := fleetOf(2, 3, 1, 29)
	tests := []struct {
		q     string
		shown int
	}{
		{"", 35},
		{"d-failed-0001", 1},
		{"D-FAILED", 2},
		{"0001", 3},
		{"nothing like it", 0},
		{`"><script>alert(1)</script>`, 0},
	}
	for _, tt := range tests {
		v := Build(snap, options(), tt.q)
		hidden := 0
		for _, s := range v.Sections {
			for _, tl := range s.All {
				if tl.Hidden {
					hidden++
				}
			}
		}
		if v.Shown != tt.shown || hidden != 35-tt.shown || v.Hosts != 35 {
			t.Errorf("q=%q: shown %d, hidden %d of %d; want %d shown of 35", tt.q, v.Shown, hidden, v.Hosts, tt.shown)
		}
	}
	h := New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: options().Now})
	body := get(t, h, `/?q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E`)
	if strings.Contains(body, "<script>alert") {
		t.Errorf("the query became markup")
	}
	body = get(t, h, "/?q=d-failed-0001")
	if !strings.Contains(body, `value="d-failed-0001"`) || !strings.Contains(body, "Showing 1 of 35 hosts.") {
		t.Errorf("/?q=d-failed-0001 does not pre-fill the filter or say what it shows")
	}
	if got := strings.Count(body, " hidden>"); got != 34 {
		t.Errorf("/?q=d-failed-0001 hides %d tiles, want 34", got)
	}
	if !strings.Contains(body, `id="host-d-failed-0001"`) {
		t.Errorf("no tile with id host-d-failed-0001 for a notification's link")
	}
}

// TestCSPAllowsOnlyTheFilter: the one script runs by its hash, nothing
// else (inline handlers, other scripts) can.
func TestCSPAllowsOnlyTheFilter(t *testing.T) {
	rec := httptest.NewRecorder()
	New(Options{Snapshot: func() *fleet.Snapshot { return fleetOf(1, 1, 1, 1) }}).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	scripts := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(body, -1)
	if len(scripts) != 1 {
		t.Fatalf("%d scripts in the page, want 1", len(scripts))
	}
	policy := rec.Header().Get("Content-Security-Policy")
	if want := "script-src '" + hash(scripts[0][1]) + "'"; !strings.Contains(policy, want) {
		t.Errorf("Content-Security-Policy %q lacks %q", policy, want)
	}
	for _, forbidden := range []string{"unsafe-inline' ;", "script-src 'unsafe", "script-src *"} {
		if strings.Contains(policy, forbidden) {
			t.Errorf("Content-Security-Policy %q allows more than the filter (%s)", policy, forbidden)
		}
	}
}

// TestHostileRecordBounded: a record of megabytes (invalid UTF-8, newlines,
// markup) costs the page a bounded tile, shown as text.
func TestHostileRecordBounded(t *testing.T) {
	huge := strings.Repeat("<b>\n\xff", 1<<20)
	snap := &fleet.Snapshot{Hosts: fleet.RecordsOf([]status.Record{
		{Host: "db", Status: status.Failed, LastFailure: ago(time.Hour), ExitCode: i64(3), Message: huge, Problems: []string{huge, huge, huge, huge, huge, huge, huge}},
		{Host: strings.Repeat("h", 1<<20), Status: status.Unknown, RawStatus: huge},
	}...), RestoreTest: &status.RestoreTest{Result: status.Failed, LastTest: ago(time.Hour), Notes: huge, HostTested: huge},
		Err: errors.New(huge), Problems: []string{huge, huge, huge, huge, huge, huge, huge, huge}}
	body := get(t, New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: options().Now}), "/")
	if len(body) > 64<<10 {
		t.Errorf("page of 2 hosts with megabytes of record is %d bytes, want under 64 KiB", len(body))
	}
	if !utf8.ValidString(body) {
		t.Errorf("page is not valid UTF-8")
	}
	if strings.Contains(body, "<b>") {
		t.Errorf("a recorded <b> became markup")
	}
	if !strings.Contains(body, "exit code 3: &lt;b&gt; \uFFFD&lt;b&gt;") {
		t.Errorf("the failure's exit code and message are not shown as escaped text")
	}
	if !strings.Contains(body, "and 2 more") {
		t.Errorf("seven problems are not bounded to five and a count")
	}
}

// TestPageAtScaleBounded: 5,000 hosts cost a page proportional to them,
// and 5,000 failed for one cause no more than 100 full tiles.
func TestPageAtScaleBounded(t *testing.T) {
	tests := []struct {
		name                      string
		failed, overdue, unknown  int
		ok, maxBytesPerHost, full int
	}{
		{"mostly ok", 50, 100, 50, 4800, 250, 200},
		{"all failed", 5000, 0, 0, 0, 400, 100},
		{"all unknown", 0, 0, 5000, 0, 250, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := get(t, New(Options{Snapshot: func() *fleet.Snapshot { return fleetOf(tt.failed, tt.overdue, tt.unknown, tt.ok) }, Now: options().Now}), "/")
			if got := strings.Count(body, `<li class="tile `); got != 5000 {
				t.Errorf("%d tiles, want 5000", got)
			}
			if got := strings.Count(body, `<div class="headline">`); got != tt.full {
				t.Errorf("%d tiles in full, want %d", got, tt.full)
			}
			if per := len(body) / 5000; per > tt.maxBytesPerHost {
				t.Errorf("%d bytes per host at 5,000 hosts, want at most %d", per, tt.maxBytesPerHost)
			}
		})
	}
	body := get(t, New(Options{Snapshot: func() *fleet.Snapshot { return fleetOf(50, 100, 50, 4800) }, Now: options().Now}), "/")
	first := strings.Index(body, `id="host-d-failed-0000"`)
	if first < 0 || first > strings.Index(body, `id="host-c-overdue-0000"`) || strings.Index(body, `id="host-b-unknown-0000"`) > strings.Index(body, `id="host-a-ok-0000"`) {
		t.Errorf("at 5,000 hosts the problems do not come first")
	}
}

func TestHandlerRoutes(t *testing.T) {
	h := New(Options{Snapshot: func() *fleet.Snapshot { return nil }})
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200},
		{"GET", "/?q=db", 200},
		{"HEAD", "/", 200},
		{"POST", "/", 405},
		{"GET", "/favicon.ico", 404},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.want {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
	}
}

func TestPageBeforeFirstRefresh(t *testing.T) {
	body := get(t, New(Options{Snapshot: func() *fleet.Snapshot { return nil }}), "/")
	for _, want := range []string{`data-store="starting"`, `<meta http-equiv="refresh" content="60">`, "This page reloads itself every 60 s."} {
		if !strings.Contains(body, want) {
			t.Errorf("page before the first refresh lacks %q:\n%s", want, body)
		}
	}
}

func get(t *testing.T, h http.Handler, target string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// BenchmarkPage5000 renders the page of 5,000 hosts (make bench reports
// the exporter as a whole; this is the page alone).
func BenchmarkPage5000(b *testing.B) {
	snap := fleetOf(50, 100, 50, 4800)
	h := New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: options().Now})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
