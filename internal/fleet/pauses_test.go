package fleet

import (
	"context"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

func describePauses(snap *Snapshot) string {
	var out []string
	for _, p := range snap.Pauses {
		out = append(out, p.Host+"@"+p.Job+"="+p.Reason)
	}
	return strings.Join(out, ",")
}

// TestPauses: a full refresh reads every pause (the pauses folder is no
// store problem, a bad name under it is); a nudge of a host or job reads
// its pause again, new, changed or gone, and leaves the others and prev
// alone; a nudge whose pause did not change gives prev back.
func TestPauses(t *testing.T) {
	s, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pause := func(host, job, reason string) {
		write(t, s, status.PauseKey(host, job), map[string]any{"until": "2126-01-01T00:00:00+00:00", "reason": reason})
	}
	write(t, s, "db", map[string]any{"status": "success"})
	write(t, s, "web", map[string]any{"status": "success"})
	pause("db", "", "upgrade")
	pause("web", "files", "disk swap")
	write(t, s, status.PausesFolder+"/bad name", map[string]any{"until": "x"})
	prev := Load(ctx, s, Options{}, nil)
	if prev.Err != nil {
		t.Fatal(prev.Err)
	}
	if got, want := describePauses(prev), "db@=upgrade,web@files=disk swap"; got != want {
		t.Errorf("refresh: pauses %s, want %s", got, want)
	}
	if len(prev.Problems) != 1 || !strings.Contains(prev.Problems[0], "bad name") {
		t.Errorf("store problems %q, want one naming the bad pause name", prev.Problems)
	}
	if got := hosts(prev); got != "db=success,web=success" {
		t.Errorf("hosts %s: a pause is not a host", got)
	}

	pause("web", "", "new")
	pause("db", "", "longer")
	if err := s.Delete(ctx, status.PauseKey("web", "files")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ids  []status.JobID
		want string
	}{
		{"a host's changed pause", []status.JobID{{Host: "db"}}, "db@=longer,web@files=disk swap"},
		{"a host's new pause", []status.JobID{{Host: "web"}}, "db@=upgrade,web@=new,web@files=disk swap"},
		{"a job's pause gone", []status.JobID{{Host: "web", Job: "files"}}, "db@=upgrade"},
	} {
		snap, err := Reread(ctx, s, Options{}, prev, tc.ids)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := describePauses(snap); got != tc.want {
			t.Errorf("%s: pauses %s, want %s", tc.name, got, tc.want)
		}
	}
	if got := describePauses(prev); got != "db@=upgrade,web@files=disk swap" {
		t.Errorf("Reread changed its prev: %s", got)
	}
	same, err := Reread(ctx, s, Options{}, Load(ctx, s, Options{}, nil), []status.JobID{{Host: "nobody"}})
	if err != nil || same == nil {
		t.Fatalf("nudge of nothing: %v", err)
	}
}
