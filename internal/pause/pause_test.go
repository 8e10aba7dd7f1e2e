package pause

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

var now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func TestUntil(t *testing.T) {
	for _, tc := range []struct {
		in    string
		force bool
		want  time.Time
		err   string
	}{
		{"2h", false, now.Add(2 * time.Hour), ""},
		{" 3d ", false, now.Add(72 * time.Hour), ""},
		{"2026-03-03T10:00:00Z", false, now.Add(24 * time.Hour), ""},
		{"", false, time.Time{}, "empty"},
		{"soon", false, time.Time{}, "give a time (RFC 3339) or a duration"},
		{"2026-03-01T10:00:00Z", false, time.Time{}, "not in the future"},
		{"30d", false, time.Time{}, "needs --force"},
		{"30d", true, now.Add(30 * 24 * time.Hour), ""},
	} {
		got, err := Until(tc.in, now, tc.force)
		switch {
		case tc.err == "" && (err != nil || !got.Equal(tc.want)):
			t.Errorf("Until(%q, force %v) = %v, %v; want %v", tc.in, tc.force, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Until(%q, force %v) = %v, %v; want an error saying %q", tc.in, tc.force, got, err, tc.err)
		}
	}
}

// TestSetEnd: a pause is written, replaced, ended once (its reason kept),
// and an end of no pause, or of an ended one, writes nothing.
func TestSetEnd(t *testing.T) {
	ctx := context.Background()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := End(ctx, st, "db", "", now); err == nil || !strings.Contains(err.Error(), "no pause of db") {
		t.Errorf("End of no pause: %v, want an error saying there is none", err)
	}
	if replaced, err := Set(ctx, st, "db", "", now.Add(time.Hour), "OPS-1", now); err != nil || replaced != nil {
		t.Fatalf("Set: %v, replaced %v", err, replaced)
	}
	replaced, err := Set(ctx, st, "db", "", now.Add(2*time.Hour), "OPS-2", now)
	if err != nil || replaced == nil || !replaced.Until.Equal(now.Add(time.Hour)) || replaced.Reason != "OPS-1" {
		t.Fatalf("Set again: %v, replaced %+v; want the first pause", err, replaced)
	}
	later := now.Add(30 * time.Minute)
	if ended, err := End(ctx, st, "db", "", later); err != nil || ended {
		t.Fatalf("End: ended %v, %v", ended, err)
	}
	doc, err := st.Get(ctx, status.PauseKey("db", ""))
	if err != nil {
		t.Fatal(err)
	}
	p := status.ParsePause("db", "", doc)
	if !p.Until.Equal(later) || !p.ResumedAt.Equal(later) || p.Reason != "OPS-2" || p.Active(later) {
		t.Errorf("after End: %+v; want ended at %v with its reason", p, later)
	}
	if ended, err := End(ctx, st, "db", "", later.Add(time.Minute)); err != nil || !ended {
		t.Errorf("End of an ended pause: ended %v, %v; want ended, no error", ended, err)
	}
	if _, err := End(ctx, st, "db", "nightly", later); err == nil || !strings.Contains(err.Error(), "no pause of db job nightly") {
		t.Errorf("End of a job without a pause: %v", err)
	}
}
