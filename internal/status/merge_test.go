package status

import (
	"strings"
	"testing"
	"time"
)

// A stored time beyond the clock skew allowance (a host clock set to 2036,
// a typo, `record --at` two hours ahead before that was refused) must never
// beat a real, present result: it counts as never, and the next real
// result removes it.
func TestFutureStoredTimesNeverWin(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	fmtAt := func(d time.Duration) string { return FormatTime(now.Add(d)) }
	for _, tc := range []struct {
		name string
		old  map[string]any
		res  Result
		want map[string]any // fields checked; nil means absent
	}{
		{
			name: "failure after a success two hours ahead",
			old:  map[string]any{"status": "success", "last_success": fmtAt(2 * time.Hour), "consecutive_failures": "0"},
			res:  Result{Outcome: Failed, At: now},
			want: map[string]any{"status": "failed", "last_failure": FormatTime(now), "last_success": nil, "consecutive_failures": "1"},
		},
		{
			name: "failure after a success ten years ahead",
			old:  map[string]any{"status": "success", "last_success": fmtAt(10 * 365 * 24 * time.Hour), "last_failure": fmtAt(10 * 365 * 24 * time.Hour)},
			res:  Result{Outcome: Failed, At: now},
			want: map[string]any{"status": "failed", "last_failure": FormatTime(now), "last_success": nil},
		},
		{
			name: "success after a failure an hour ahead",
			old:  map[string]any{"status": "failed", "last_failure": fmtAt(time.Hour), "last_success": fmtAt(-24 * time.Hour), "consecutive_failures": "4"},
			res:  Result{Outcome: Success, At: now},
			want: map[string]any{"status": "success", "last_success": FormatTime(now), "last_failure": nil, "consecutive_failures": "0"},
		},
		{
			name: "success over a future last_success replaces it",
			old:  map[string]any{"status": "success", "last_success": fmtAt(3 * time.Hour)},
			res:  Result{Outcome: Success, At: now},
			want: map[string]any{"status": "success", "last_success": FormatTime(now)},
		},
		{
			name: "attempt over a future last_attempt replaces it",
			old:  map[string]any{"status": "success", "last_success": fmtAt(-time.Hour), "last_attempt": fmtAt(time.Hour)},
			res:  Result{At: now},
			want: map[string]any{"status": "success", "last_attempt": FormatTime(now), "last_success": fmtAt(-time.Hour)},
		},
		{
			// Issue 16: the later arrival is the status, the times stay.
			name: "within the allowance the later arrival wins",
			old:  map[string]any{"status": "success", "last_success": fmtAt(ClockSkew - time.Minute)},
			res:  Result{Outcome: Failed, At: now},
			want: map[string]any{"status": "failed", "last_failure": FormatTime(now), "last_success": fmtAt(ClockSkew - time.Minute)},
		},
		{
			name: "an older real result still does not move the status",
			old:  map[string]any{"status": "success", "last_success": fmtAt(-time.Minute)},
			res:  Result{Outcome: Failed, At: now.Add(-time.Hour)},
			want: map[string]any{"status": "success", "last_failure": fmtAt(-time.Hour), "last_success": fmtAt(-time.Minute)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := Apply(tc.old, tc.res)
			if !changed {
				t.Errorf("changed = false, want true")
			}
			for k, want := range tc.want {
				v, ok := got[k]
				switch {
				case want == nil && ok:
					t.Errorf("%s = %v, want it removed", k, v)
				case want != nil && v != want:
					t.Errorf("%s = %v, want %v", k, v, want)
				}
			}
		})
	}
}

func TestFutureRestoreTestNeverWins(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for _, tc := range []struct {
		name    string
		stored  time.Duration
		changed bool
	}{
		{"an hour ahead", time.Hour, true},
		{"ten years ahead", 10 * 365 * 24 * time.Hour, true},
		{"within the allowance", ClockSkew - time.Minute, false},
	} {
		doc, changed := ApplyRestoreTest(map[string]any{"last_test": FormatTime(now.Add(tc.stored)), "result": "passed"}, RestoreTest{LastTest: now, Result: Failed})
		if changed != tc.changed || (changed && doc["result"] != "failed") {
			t.Errorf("%s: changed %v, doc %v; want changed %v", tc.name, changed, doc, tc.changed)
		}
	}
}

func TestCheckNotFuture(t *testing.T) {
	now := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string // "" for accepted
	}{
		{now, ""},
		{now.Add(-365 * 24 * time.Hour), ""},
		{now.Add(ClockSkew), ""},
		{now.Add(ClockSkew + time.Second), "in the future"},
		{now.Add(2 * time.Hour), "2h0m0s in the future, more than the 5m0s"},
		{time.Date(9998, 1, 1, 0, 0, 0, 0, time.UTC), "in the future"},
	} {
		err := CheckNotFuture(tc.at, now)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckNotFuture(%s) = %v, want nil", tc.at, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckNotFuture(%s) = %v, want an error with %q", tc.at, err, tc.want)
		}
	}
}
