package fleet

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestClampFutureAcrossReads: a time more than status.ClockSkew ahead is
// taken as when it was first read, by a full refresh or a nudge's reread,
// and keeps that moment at later reads while the record holds it, so its
// age grows from then (issue 16, item 9).
func TestClampFutureAcrossReads(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ahead := status.FormatTime(t0.Add(23 * time.Hour))
	if err := os.WriteFile(filepath.Join(dir, "db.json"), []byte(`{"status":"failed","last_success":"`+ahead+`","last_failure":"`+ahead+`"}`), 0o640); err != nil {
		t.Fatal(err)
	}
	st, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	opts := Options{Now: func() time.Time { return now }}
	check := func(when string, snap *Snapshot) {
		t.Helper()
		if snap.Hosts.Len() != 1 {
			t.Fatalf("%s: hosts %v", when, snap.Hosts)
		}
		r := snap.Hosts.At(0)
		if !r.LastSuccess.Equal(t0) || !r.LastFailure.Equal(t0) || r.Ahead() != 23*time.Hour || r.Status != status.Failed {
			t.Errorf("%s: last success %s, last failure %s, ahead %s, status %s; want %s, %s, 23h, failed", when, r.LastSuccess, r.LastFailure, r.Ahead(), r.Status, t0, t0)
		}
	}
	snap := Load(context.Background(), st, opts, nil)
	check("first read", snap)
	now = t0.Add(time.Hour)
	snap, err = Reread(context.Background(), st, opts, snap, []status.JobID{{Host: "db"}})
	if err != nil {
		t.Fatal(err)
	}
	check("reread an hour later", snap)
	now = t0.Add(30 * time.Hour) // the clock has passed the claimed time
	check("refresh 30 hours later", Load(context.Background(), st, opts, snap))
}
