package schedule

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDeadline(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	nyc := mustLoc(t, "America/New_York")
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }
	ber := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, berlin) }
	every := func(d, g time.Duration) Schedule {
		s, err := Interval(d, g)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	crontab := func(expr, tz string, g time.Duration) Schedule {
		s, err := Cron(expr, tz, g)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		s    Schedule
		last time.Time
		want time.Time
	}{
		{"default: the runbook's 24 h", Default(), utc(2026, 11, 25, 3, 10), utc(2026, 11, 26, 3, 10)},
		{"hourly interval", every(time.Hour, 0), utc(2026, 11, 25, 3, 59), utc(2026, 11, 25, 4, 59)},
		{"hourly interval, grace 10m", every(time.Hour, 10*time.Minute), utc(2026, 11, 25, 23, 55), utc(2026, 11, 26, 1, 5)},
		{"daily interval across DST is 24 real hours", every(24*time.Hour, 0), ber(2026, 3, 28, 3, 0), ber(2026, 3, 29, 4, 0)},
		{"weekly interval", every(7*24*time.Hour, 6*time.Hour), utc(2026, 11, 29, 2, 0), utc(2026, 12, 6, 8, 0)},
		{"hourly cron, just before the hour", crontab("0 * * * *", "", 0), utc(2026, 11, 25, 3, 59), utc(2026, 11, 25, 4, 0)},
		{"hourly cron, on the hour", crontab("0 * * * *", "", 0), utc(2026, 11, 25, 4, 0), utc(2026, 11, 25, 5, 0)},
		{"hourly cron, day boundary", crontab("@hourly", "UTC", 5*time.Minute), utc(2026, 11, 25, 23, 30), utc(2026, 11, 26, 0, 5)},
		{"daily cron, default grace 1h", crontab("0 3 * * *", "Europe/Berlin", -1), ber(2026, 11, 25, 3, 10), ber(2026, 11, 26, 4, 0)},
		{"daily cron, success before its time", crontab("0 3 * * *", "Europe/Berlin", 0), ber(2026, 11, 25, 2, 59), ber(2026, 11, 25, 3, 0)},
		{"daily cron, year boundary", crontab("@daily", "", 0), utc(2026, 12, 31, 0, 30), utc(2027, 1, 1, 0, 0)},
		{"weekly cron (Sunday 02:00), from Monday", crontab("0 2 * * 0", "UTC", time.Hour), utc(2026, 11, 30, 2, 30), utc(2026, 12, 6, 3, 0)},
		{"weekly cron, from Saturday night", crontab("@weekly", "UTC", 0), utc(2026, 12, 5, 23, 59), utc(2026, 12, 6, 0, 0)},
		{"monthly cron into a 31-day month", crontab("0 4 1 * *", "UTC", 0), utc(2026, 12, 1, 5, 0), utc(2027, 1, 1, 4, 0)},
		{"monthly cron across February", crontab("0 4 1 * *", "UTC", 0), utc(2027, 2, 1, 5, 0), utc(2027, 3, 1, 4, 0)},
		{"monthly cron", crontab("0 4 1 * *", "UTC", 0), utc(2027, 1, 1, 5, 0), utc(2027, 2, 1, 4, 0)}, // on the 31st it is refused: 59 days without firing (TestScheduleBounds)
		{"@monthly", crontab("@monthly", "Europe/Berlin", 2*time.Hour), ber(2026, 11, 1, 0, 30), ber(2026, 12, 1, 2, 0)},
		// Summer time starts 2026-03-29 02:00 CET -> 03:00 CEST in Berlin.
		{"DST forward: the day is 23 h long", crontab("0 3 * * *", "Europe/Berlin", 0), ber(2026, 3, 28, 3, 5), ber(2026, 3, 29, 3, 0)},
		{"DST forward: a skipped time counts an hour later", crontab("30 2 * * *", "Europe/Berlin", 0), ber(2026, 3, 28, 2, 40), time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)},
		{"DST forward: the day after", crontab("30 2 * * *", "Europe/Berlin", 0), ber(2026, 3, 29, 3, 40), ber(2026, 3, 30, 2, 30)},
		// Summer time ends 2026-10-25 03:00 CEST -> 02:00 CET.
		{"DST back: the day is 25 h long", crontab("0 3 * * *", "Europe/Berlin", 0), ber(2026, 10, 24, 3, 5), ber(2026, 10, 25, 3, 0)},
		{"DST back: a repeated time counts once, not an hour after the first", crontab("30 2 * * *", "Europe/Berlin", 0), time.Date(2026, 10, 25, 0, 40, 0, 0, time.UTC), ber(2026, 10, 26, 2, 30)},
		{"DST back: from the day before, the second 02:30", crontab("30 2 * * *", "Europe/Berlin", 0), ber(2026, 10, 24, 2, 40), time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)},
		{"DST back: hourly cron skips the repeated hour", crontab("0 * * * *", "Europe/Berlin", 0), time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC)},
		{"another zone: New York's DST", crontab("0 1 * * *", "America/New_York", 0), time.Date(2026, 3, 7, 1, 30, 0, 0, nyc), time.Date(2026, 3, 8, 1, 0, 0, 0, nyc)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Deadline(tc.last); !got.Equal(tc.want) {
				t.Errorf("Deadline(%s) of %s = %s, want %s", tc.last, tc.s, got, tc.want.In(tc.last.Location()))
			}
		})
	}
}

func TestMaxRun(t *testing.T) {
	start := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	daily, _ := Cron("0 3 * * *", "UTC", 0)
	monthly, _ := Cron("@monthly", "UTC", 0)
	graced, _ := Interval(time.Hour, 20*time.Minute)
	for _, tc := range []struct {
		s    Schedule
		want time.Duration
	}{
		{Default(), 24 * time.Hour},
		{graced, 20 * time.Minute},
		{daily, 24 * time.Hour},
		{monthly, 31 * 24 * time.Hour}, // December
	} {
		if got := tc.s.MaxRun(start); got != tc.want {
			t.Errorf("MaxRun of %s = %s, want %s", tc.s, got, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		field, tz string
		grace     time.Duration
		want      string // String(), or the error's start
		err       bool
	}{
		{"24h", "", -1, "every 1d", false},
		{"1h", "", 0, "every 1h", false},
		{"7d", "", 6 * time.Hour, "every 1w, grace 6h", false},
		{"90m", "", -1, "every 1h30m", false},
		{"1.5h", "", -1, "every 1h30m", false},
		{"0 3 * * *", "Europe/Berlin", -1, "cron 0 3 * * * Europe/Berlin, grace 1h", false},
		{"0  3 * * *", "", 0, "cron 0 3 * * * UTC", false},
		{"@weekly", "", 30 * time.Minute, "cron @weekly UTC, grace 30m", false},
		{"0", "", -1, "interval 0s: must be positive", true},
		{"-1h", "", -1, "interval -1h: must be positive", true},
		{"0s", "", -1, "interval 0s: must be positive", true},
		{"3y", "", -1, "interval 3y: longer than", true},
		{"1h", "Europe/Berlin", -1, "time zone \"Europe/Berlin\" given for the interval", true},
		{"daily", "", -1, "interval: not a duration", true},
		{"0 3 * *", "", -1, "cron expression \"0 3 * *\": expected exactly 5 fields", true},
		{"61 3 * * *", "", -1, "cron expression \"61 3 * * *\"", true},
		{"0 0 30 2 *", "", -1, "cron expression \"0 0 30 2 *\" never fires", true},
		{"@every 1h", "", -1, "cron expression \"@every 1h\": give an interval", true},
		{"CRON_TZ=Europe/Berlin 0 3 * * *", "", -1, "cron expression \"CRON_TZ=Europe/Berlin 0 3 * * *\": give the time zone", true},
		{"0 3 * * *", "Mars/Olympus", -1, "time zone \"Mars/Olympus\": not a known", true},
		{"0 3 * * *", "Local", -1, "time zone Local", true},
		{"0 3 * * *", "", 366 * 24 * time.Hour, "grace 366d: longer than 32 days", true},
		{"1h", "", 366 * 24 * time.Hour, "grace 366d: longer than 32 days", true},
	} {
		s, err := Parse(tc.field, tc.tz, tc.grace)
		switch {
		case tc.err && err == nil:
			t.Errorf("Parse(%q, %q, %s) = %s, want an error %q", tc.field, tc.tz, tc.grace, s, tc.want)
		case tc.err && !strings.HasPrefix(err.Error(), tc.want):
			t.Errorf("Parse(%q, %q, %s): error %q, want it to start with %q", tc.field, tc.tz, tc.grace, err, tc.want)
		case !tc.err && err != nil:
			t.Errorf("Parse(%q, %q, %s): %v", tc.field, tc.tz, tc.grace, err)
		case !tc.err && s.String() != tc.want:
			t.Errorf("Parse(%q, %q, %s) = %q, want %q", tc.field, tc.tz, tc.grace, s, tc.want)
		}
		if err == nil {
			// What a record holds reads back as the same schedule.
			back, err := Parse(s.Field(), s.TZ, s.Grace)
			if err != nil || back.String() != s.String() {
				t.Errorf("Parse(Field()) of %s = %s, %v", s, back, err)
			}
		}
	}
}

func TestParseGraceSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"3600", time.Hour, false},
		{"0", 0, false},
		{" 90.5 ", 90500 * time.Millisecond, false},
		{"-1", 0, true},
		{"31622400", 0, true},
		{"NaN", 0, true},
		{"soon", 0, true},
	} {
		got, err := ParseGraceSeconds(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseGraceSeconds(%q) = %s, %v; want %s, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestZeroIsDefault(t *testing.T) {
	var z Schedule
	at := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	if !z.IsZero() || !z.IsDefault() || z.String() != "every 1d" || z.Field() != "1d" || !z.Deadline(at).Equal(at.Add(24*time.Hour)) {
		t.Errorf("zero schedule: %q %q %s, want the runbook's 24 h", z, z.Field(), z.Deadline(at))
	}
}
