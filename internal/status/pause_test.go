package status

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidatePauseReason(t *testing.T) {
	for _, tt := range []struct {
		reason string
		ok     bool
	}{
		{"kernel upgrade, CHG-1234", true},
		{"disk swap: see https://wiki.example.org/x?y=1&z=2", true},
		{"", false},
		{"   ", false},
		{"<script>alert(1)</script>", false},
		{"two\nlines", false},
		{"carriage\rreturn", false},
		{"tab\there", false},
		{"line\u2028separator", false},
		{strings.Repeat("x", MaxPauseReason), true},
		{strings.Repeat("x", MaxPauseReason+1), false},
		{strings.Repeat("x", 1<<20), false},
		{"bad \xff utf8", false},
	} {
		err := ValidatePauseReason(tt.reason)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePauseReason(%.40q) = %v, want ok=%v", tt.reason, err, tt.ok)
		}
	}
}

func TestCheckPauseUntil(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		until time.Duration
		force bool
		ok    bool
	}{
		{2 * time.Hour, false, true},
		{MaxPause, false, true},
		{MaxPause + time.Second, false, false},
		{MaxPause + time.Second, true, true},
		{0, false, false},
		{-time.Hour, true, false},
		{MaxForcedPause + time.Second, true, false},
		{100 * 365 * 24 * time.Hour, true, false},
	} {
		err := CheckPauseUntil(now.Add(tt.until), now, tt.force)
		if (err == nil) != tt.ok {
			t.Errorf("CheckPauseUntil(now+%v, force=%v) = %v, want ok=%v", tt.until, tt.force, err, tt.ok)
		}
	}
}

func TestPauseKeys(t *testing.T) {
	for _, tt := range []struct{ host, job, key string }{
		{"db", "", "pauses/db"},
		{"db", "files", "pauses/db@files"},
	} {
		if got := PauseKey(tt.host, tt.job); got != tt.key {
			t.Errorf("PauseKey(%q, %q) = %q, want %q", tt.host, tt.job, got, tt.key)
		}
		h, j, err := SplitPauseName(strings.TrimPrefix(tt.key, PausesFolder+"/"))
		if err != nil || h != tt.host || j != tt.job {
			t.Errorf("SplitPauseName(%q) = %q, %q, %v", tt.key, h, j, err)
		}
	}
	for _, bad := range []string{"", "db@", "@files", "d b", "db@fi/les", "restore-test"} {
		if _, _, err := SplitPauseName(bad); err == nil {
			t.Errorf("SplitPauseName(%q): no error", bad)
		}
	}
}

func TestParsePause(t *testing.T) {
	p := ParsePause("db", "", map[string]any{FieldPausedUntil: "2026-12-07T03:00:00+00:00", FieldPauseReason: "upgrade", FieldPausedAt: "2026-12-07T01:00:00+00:00"})
	if len(p.Problems) != 0 || p.Reason != "upgrade" || !p.Until.Equal(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("ParsePause = %+v", p)
	}
	if !p.Active(time.Date(2026, 12, 7, 2, 59, 59, 0, time.UTC)) || p.Active(time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("Active: want true a second before until, false at until")
	}
	if p := ParsePause("db", "", map[string]any{FieldPauseReason: "x"}); len(p.Problems) == 0 || !p.Until.IsZero() {
		t.Errorf("pause without until: %+v, want a problem and no until", p)
	}
}

// FuzzPause: a pause record as anything may have written it, under any
// name, is read without panic, its reason bounded, and only valid names
// are taken for a host and job.
func FuzzPause(f *testing.F) {
	f.Add("db", []byte(`{"until":"2026-12-07T03:00:00+00:00","reason":"upgrade","paused_at":"2026-12-07T01:00:00+00:00"}`))
	f.Add("db@files", []byte(`{"until":1796612400,"reason":"<b>x</b>\n"}`))
	f.Add("@", []byte(`{"until":["x"],"reason":{"a":1}}`))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		host, job, err := SplitPauseName(name)
		if err == nil && (ValidateHost(host) != nil || (job != "" && ValidateJob(job) != nil)) {
			t.Errorf("SplitPauseName(%q) took %q, %q", name, host, job)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var doc map[string]any
		if dec.Decode(&doc) != nil {
			return
		}
		p := ParsePause(host, job, doc)
		if len(p.Reason) > MaxPauseReason+len("…") {
			t.Errorf("reason of %d bytes", len(p.Reason))
		}
		if p.Until.IsZero() && len(p.Problems) == 0 {
			t.Errorf("no end and no problem: %+v", p)
		}
	})
}
