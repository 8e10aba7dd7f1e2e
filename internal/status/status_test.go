package status

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestValidateHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"db", true},
		{"graylog-1", true},
		{"vault-3.golemtrust.am", true},
		{"DB_2", true},
		{"", false},
		{"restore-test", false},
		{"-db", false},
		{"db-", false},
		{"a..b", false},
		{"db/../auth", false},
		{"db auth", false},
		{"<script>", false},
		{strings.Repeat("a", 64), false},
		{strings.Repeat("a.", 127) + "a", false},
		{"ünïcode", false},
	} {
		err := ValidateHost(tc.host)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateHost(%q) = %v, want ok=%v", tc.host, err, tc.ok)
		}
	}
}

func TestFormatTimeMatchesDateIseconds(t *testing.T) {
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 11, 25, 3, 0, 0, 999, time.UTC), "2026-11-25T03:00:00+00:00"},
		{time.Date(2026, 11, 25, 4, 0, 0, 0, time.FixedZone("CET", 3600)), "2026-11-25T04:00:00+01:00"},
	} {
		if got := FormatTime(tc.in); got != tc.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	for _, in := range []string{
		"2026-11-25T03:00:00+00:00",
		"2026-11-25T03:00:00Z",
		"2026-11-25T03:00:00.000000Z",
		"2026-11-25T04:00:00+01:00",
		"2026-11-25T03:00:00+0000",
		"2026-11-25T03:00:00",
		"2026-11-25 03:00:00",
		" 2026-11-25T03:00:00Z\n",
		"1795575600",
		"Wed, 25 Nov 2026 03:00:00 +0000",
	} {
		got, err := ParseTime(in)
		if err != nil {
			t.Errorf("ParseTime(%q): %v", in, err)
			continue
		}
		if !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{"", "yesterday", "0", "1970-01-01T00:00:00+00:00", "2026-13-01T00:00:00Z", strings.Repeat("9", 10000), "12345", "NaN"} {
		if got, err := ParseTime(in); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseToleratesAnything(t *testing.T) {
	success := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		data         map[string]any
		status       string
		lastSuccess  time.Time
		wantProblems []string // substrings, in order
	}{
		{"runbook record", map[string]any{"status": "success", "last_success": "2026-11-24T03:00:00+00:00", "last_failure": "2026-11-20T03:00:00+00:00"}, Success, success, nil},
		{"nil record", nil, Unknown, time.Time{}, []string{"no record"}},
		{"empty record", map[string]any{}, Unknown, time.Time{}, []string{"status: missing"}},
		{"empty strings", map[string]any{"status": "", "last_success": "", "last_failure": "  "}, Unknown, time.Time{}, []string{"status: missing"}},
		{"Z and fractions", map[string]any{"status": "success", "last_success": "2026-11-24T03:00:00.123Z"}, Success, success.Add(123 * time.Millisecond), nil},
		{"not a time", map[string]any{"status": "success", "last_success": "last tuesday"}, Success, time.Time{}, []string{"last_success: not a time", "not established"}},
		{"unknown status", map[string]any{"status": "exploded", "last_success": "2026-11-24T03:00:00Z"}, Unknown, success, []string{`unrecognised value "exploded"`}},
		{"synonyms", map[string]any{"status": " OK ", "last_success": "2026-11-24T03:00:00Z"}, Success, success, nil},
		{"error is failed", map[string]any{"status": "ERROR"}, Failed, time.Time{}, nil},
		{"numbers as strings and numbers", map[string]any{"status": "failed", "exit_code": "3", "consecutive_failures": json.Number("7"), "duration_seconds": 12.5}, Failed, time.Time{}, nil},
		{"wrong types", map[string]any{"status": []any{"x"}, "last_success": map[string]any{"a": 1}}, Unknown, time.Time{}, []string{"status: unexpected", "last_success: unexpected"}},
		{"huge values", map[string]any{"status": strings.Repeat("x", 1<<20), "exit_code": "1e400", "message": strings.Repeat("m", 1<<20)}, Unknown, time.Time{}, []string{"unrecognised value", "exit_code: not a number"}},
		{"not whole", map[string]any{"status": "failed", "exit_code": "1.5"}, Failed, time.Time{}, []string{"exit_code: not a whole number"}},
		{"hostile text", map[string]any{"status": "<script>alert(1)</script>"}, Unknown, time.Time{}, []string{"unrecognised value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Parse("db", tc.data)
			if r.Status != tc.status {
				t.Errorf("Status = %q, want %q", r.Status, tc.status)
			}
			if !r.LastSuccess.Equal(tc.lastSuccess) {
				t.Errorf("LastSuccess = %v, want %v", r.LastSuccess, tc.lastSuccess)
			}
			if len(r.Message) > maxMessage+len("…") || len(r.RawStatus) > 64+len("…") {
				t.Errorf("unbounded text kept: message %d bytes, raw status %d bytes", len(r.Message), len(r.RawStatus))
			}
			all := strings.Join(r.Problems, "\n")
			for _, p := range tc.wantProblems {
				if !strings.Contains(all, p) {
					t.Errorf("Problems = %q, want one containing %q", r.Problems, p)
				}
			}
			if tc.wantProblems == nil && len(r.Problems) > 0 {
				t.Errorf("Problems = %q, want none", r.Problems)
			}
			for _, p := range r.Problems {
				if len(p) > 300 {
					t.Errorf("problem too long (%d bytes): %.80q", len(p), p)
				}
			}
		})
	}
}

func TestParseRestoreTest(t *testing.T) {
	// What the runbook's `vault kv put` writes.
	rt := ParseRestoreTest(map[string]any{
		"last_test": "2026-10-01T10:00:00+00:00", "result": "passed", "host_tested": "db.golemtrust.am",
		"time_to_restore_minutes": "47", "notes": "Merchants Guild database restored successfully to staging",
	})
	if !rt.Passed() || rt.HostTested != "db.golemtrust.am" || rt.TimeToRestoreMinutes == nil || *rt.TimeToRestoreMinutes != 47 || len(rt.Problems) != 0 {
		t.Errorf("runbook record: got %+v", rt)
	}
	for _, data := range []map[string]any{nil, {}, {"result": "passed"}, {"last_test": "2026-10-01", "result": "maybe"}} {
		if rt := ParseRestoreTest(data); rt.Passed() && !rt.LastTest.IsZero() && len(rt.Problems) == 0 {
			t.Errorf("ParseRestoreTest(%v) = %+v, want problems", data, rt)
		}
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestApplyMergesAndNeverMovesBackwards(t *testing.T) {
	one := int64(1)
	doc := map[string]any{"status": "success", "last_success": "2026-11-24T03:00:00+00:00", "owner": "ops"}

	// A failure now: status failed, last_failure set, last_success and foreign fields kept.
	doc, changed := Apply(doc, Result{Outcome: Failed, At: at("2026-11-25T03:00:00Z"), ExitCode: &one, Message: "repository locked"})
	want := map[string]string{"status": "failed", "last_success": "2026-11-24T03:00:00+00:00", "last_failure": "2026-11-25T03:00:00+00:00", "owner": "ops", "exit_code": "1", "message": "repository locked", "consecutive_failures": "1"}
	check(t, "failure", doc, changed, want)

	// The same failure delivered again (a spool replay): nothing changes.
	doc, changed = Apply(doc, Result{Outcome: Failed, At: at("2026-11-25T03:00:00Z"), ExitCode: &one, Message: "repository locked"})
	check(t, "replayed failure", doc, changed, want)
	if changed {
		t.Errorf("replaying the same result reported a change")
	}

	// An older success replayed late: last_success advances, status stays failed.
	doc, changed = Apply(doc, Result{Outcome: Success, At: at("2026-11-24T15:00:00Z")})
	want["last_success"] = "2026-11-24T15:00:00+00:00"
	check(t, "older success", doc, changed, want)

	// An even older failure: nothing but its place in the history (issue
	// 21: every result recorded is in the history, a late one too).
	doc, changed = Apply(doc, Result{Outcome: Failed, At: at("2026-11-20T03:00:00Z")})
	check(t, "older failure", doc, changed, want)
	if h, _ := History(doc); !changed || len(h) != 3 || !h[0].At.Equal(at("2026-11-20T03:00:00Z")) {
		t.Errorf("an older failure: changed %v, history %+v", changed, h)
	}

	// A second failure counts up; a newer success resets and clears the result fields.
	doc, _ = Apply(doc, Result{Outcome: Failed, At: at("2026-11-25T04:00:00Z")})
	if doc["consecutive_failures"] != "2" {
		t.Errorf("consecutive_failures = %v, want 2", doc["consecutive_failures"])
	}
	doc, _ = Apply(doc, Result{Outcome: Success, At: at("2026-11-25T05:00:00Z"), Extra: map[string]string{FieldSnapshotID: "abcd1234"}})
	want = map[string]string{"status": "success", "last_success": "2026-11-25T05:00:00+00:00", "last_failure": "2026-11-25T04:00:00+00:00", "owner": "ops", "consecutive_failures": "0", "snapshot_id": "abcd1234"}
	check(t, "newer success", doc, true, want)

	// An attempt only moves last_attempt, forward.
	doc, _ = Apply(doc, Result{At: at("2026-11-26T03:00:00Z")})
	doc, changed = Apply(doc, Result{At: at("2026-11-26T02:00:00Z")})
	if doc["last_attempt"] != "2026-11-26T03:00:00+00:00" || changed || doc["status"] != "success" {
		t.Errorf("attempt: got %v (changed %v)", doc, changed)
	}
}

// Extra carries result fields only: it can neither set the status nor
// move a time backwards, nor add fields nothing would ever clear.
func TestApplyExtraIsResultFieldsOnly(t *testing.T) {
	doc := map[string]any{"status": "success", "last_success": "2026-11-25T03:00:00+00:00"}
	doc, _ = Apply(doc, Result{Outcome: Failed, At: at("2026-11-25T04:00:00Z"), Extra: map[string]string{
		FieldStatus: "success", FieldLastSuccess: "2020-01-01T00:00:00+00:00", FieldConsecutiveFailures: "0", "owner": "x", FieldSnapshotID: "abcd1234",
	}})
	want := map[string]string{"status": "failed", "last_success": "2026-11-25T03:00:00+00:00", "last_failure": "2026-11-25T04:00:00+00:00", "consecutive_failures": "1", "snapshot_id": "abcd1234"}
	check(t, "extra", doc, true, want)
}

func TestApplyOverBadRecord(t *testing.T) {
	doc, _ := Apply(map[string]any{"status": 42, "last_success": "garbage", "last_failure": []any{}}, Result{Outcome: Success, At: at("2026-11-25T03:00:00Z")})
	if doc["status"] != "success" || doc["last_success"] != "2026-11-25T03:00:00+00:00" {
		t.Errorf("got %v", doc)
	}
}

func check(t *testing.T, step string, doc map[string]any, changed bool, want map[string]string) {
	t.Helper()
	// Every outcome adds to the history (history_test.go checks it): the
	// fields here are the record's own.
	if _, ok := doc[FieldHistory]; ok {
		doc = maps.Clone(doc)
		delete(doc, FieldHistory)
	}
	if len(doc) != len(want) {
		t.Errorf("%s: got %d fields %v, want %d %v", step, len(doc), doc, len(want), want)
	}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s: %s = %v, want %q", step, k, doc[k], v)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("success", "2026-11-24T03:00:00+00:00", "3")
	f.Add("", "garbage", "1e999")
	f.Fuzz(func(t *testing.T, st, ls, ec string) {
		r := Parse("db", map[string]any{"status": st, "last_success": ls, "exit_code": ec})
		if r.Status != Success && r.Status != Failed && r.Status != Unknown {
			t.Fatalf("status %q", r.Status)
		}
		Apply(map[string]any{"status": st, "last_success": ls}, Result{Outcome: Success, At: time.Now()})
	})
}
