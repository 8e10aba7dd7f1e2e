package schedule

import (
	"strings"
	"testing"
	"time"
)

// TestScheduleBounds is issue 16's items 2 and 9: a schedule the record
// cannot hold as given (sub-second, stored as "0s" and rejected by every
// reader), an interval longer than MaxEvery, and a cron expression with a
// gap longer than MaxEvery between two firings are refused where they are
// given (--every, --cron, the config file, a spool entry, a record).
func TestScheduleBounds(t *testing.T) {
	for _, tc := range []struct {
		field, tz string
		want      string // "" when accepted, else the start of the error
	}{
		{"1ns", "", "interval 1ns: shorter than"},
		{"999us", "", "interval 999µs: shorter than"},
		{"59s", "", "interval 59s: shorter than"},
		{"1m", "", ""},
		{"90500ms", "", "interval 1m30s500ms: not a whole number of seconds"},
		{"32d", "", ""},
		{"33d", "", "interval 33d: longer than 32 days"},
		{"731d", "", "interval 731d: longer than 32 days"},
		{"@daily", "", ""},
		{"@weekly", "", ""},
		{"@monthly", "", ""},
		{"0 3 1 * *", "Europe/Berlin", ""}, // 31 days and an hour across the autumn change
		{"0 0 29 2 *", "", `cron expression "0 0 29 2 *": goes `},
		{"@yearly", "", `cron expression "@yearly": goes `},
		{"0 0 31 * *", "", `cron expression "0 0 31 * *": goes `},
		{"0 0 1 */2 *", "", `cron expression "0 0 1 */2 *": goes `},
	} {
		s, err := Parse(tc.field, tc.tz, -1)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Parse(%q, %q): %v", tc.field, tc.tz, err)
		case tc.want != "" && err == nil:
			t.Errorf("Parse(%q, %q) = %s, want an error %q", tc.field, tc.tz, s, tc.want)
		case tc.want != "" && !strings.HasPrefix(err.Error(), tc.want):
			t.Errorf("Parse(%q, %q): error %q, want it to start with %q", tc.field, tc.tz, err, tc.want)
		}
	}
	if _, err := Interval(time.Minute+time.Millisecond, 0); err == nil {
		t.Errorf("Interval(1m1ms) accepted: the record would hold 1m1ms but its times are whole seconds")
	}
	if _, err := Interval(time.Hour, 1500*time.Millisecond); err == nil {
		t.Errorf("Interval(1h, grace 1.5s) accepted: grace_seconds holds whole seconds")
	}
}
