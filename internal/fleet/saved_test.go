package fleet

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

// savedFleet is a refreshed snapshot with what a saved one must keep:
// hosts of each kind, a job with a cron schedule, a pause, a restore test.
func savedFleet(t *testing.T) (*Snapshot, string) {
	t.Helper()
	s, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	write(t, s, "db", map[string]any{"status": "failed", "exit_code": "3", "message": "repository locked", "last_success": status.FormatTime(now.Add(-30 * time.Hour))})
	write(t, s, "auth", map[string]any{"status": "success", "last_success": status.FormatTime(now), "duration_seconds": "12.5"})
	write(t, s, "odd", map[string]any{"status": "PARTIAL"})
	write(t, s, "jobs/db@dump", map[string]any{"status": "success", "last_success": status.FormatTime(now), "schedule": "0 3 * * *", "schedule_tz": "Europe/Paris"})
	write(t, s, status.RestoreTestKey, map[string]any{"result": "passed", "last_test": status.FormatTime(now), "host_tested": "db"})
	snap := Load(context.Background(), s, Options{Expected: []string{"never"}}, nil)
	if snap.Err != nil {
		t.Fatal(snap.Err)
	}
	return snap, s.String()
}

// TestSavedRoundTrip: a saved snapshot reads back as the one saved.
func TestSavedRoundTrip(t *testing.T) {
	snap, store := savedFleet(t)
	path := filepath.Join(t.TempDir(), "snapshot.json.gz")
	saved := time.Now()
	if err := Save(path, store, snap, saved); err != nil {
		t.Fatal(err)
	}
	got, at, err := LoadSaved(path, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !at.Equal(saved) {
		t.Errorf("saved at %v, want %v", at, saved)
	}
	want := *snap
	want.Err = nil
	if g, w := normal(t, got), normal(t, &want); g != w {
		t.Errorf("read back:\n%s\nwant:\n%s", g, w)
	}
	for i := range snap.Jobs.Slice() {
		if g, w := got.Jobs.At(i).Schedule.String(), snap.Jobs.At(i).Schedule.String(); g != w {
			t.Errorf("job %s: schedule %q, want %q", snap.Jobs.At(i).Job, g, w)
		}
		if d, w := got.Jobs.At(i).Deadline(time.Now()), snap.Jobs.At(i).Deadline(time.Now()); !d.Equal(w) {
			t.Errorf("job %s: deadline %v, want %v", snap.Jobs.At(i).Job, d, w)
		}
	}
}

// normal prints a snapshot for comparison: times by instant, schedules
// by text (their parsed part is not comparable).
func normal(t *testing.T, s *Snapshot) string {
	t.Helper()
	var b strings.Builder
	for _, rs := range [][]status.Record{s.Hosts.Slice(), s.Jobs.Slice()} {
		for _, r := range rs {
			r.Schedule, r.RecordedSchedule = status.Record{}.Schedule, nil
			b.WriteString(r.Host + "/" + r.Job + " " + r.Status + " " + r.LastSuccess.UTC().String() + " " + r.Message + " " + strings.Join(r.Problems, ";") + "\n")
		}
	}
	b.WriteString(s.LastSuccess.UTC().String() + " " + s.Started.UTC().String())
	if s.RestoreTest != nil {
		b.WriteString(" restore " + s.RestoreTest.Result + " " + s.RestoreTest.HostTested)
	}
	return b.String()
}

// TestSavedRefused: a file that is not a whole snapshot of this store is
// refused with an error saying why, and nothing of it is returned.
func TestSavedRefused(t *testing.T) {
	snap, store := savedFleet(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	if err := Save(good, store, snap, time.Now()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0xff
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a gzipped snapshot"},
		{"not gzip", []byte(`{"format":"backupwatch-snapshot/1"}`), "not a gzipped snapshot"},
		{"truncated", data[:len(data)/2], "snapshot"},
		{"damaged", flipped, "snapshot"},
		{"foreign", gz(`{"hello":"world"}` + "\n"), "format"},
		{"other version", gz(`{"format":"backupwatch-snapshot/9"}` + "\n"), "format"},
		{"other store", gz(`{"format":"backupwatch-snapshot/1","store":"vault https://elsewhere"}` + "\n"), "another store"},
		{"too few records", gz(`{"format":"backupwatch-snapshot/1","store":` + quote(store) + `,"hosts":3}` + "\n{\"Host\":\"a\"}\n"), "record 2 of 3"},
		{"huge claim", gz(`{"format":"backupwatch-snapshot/1","store":` + quote(store) + `,"hosts":99999999999}` + "\n"), "claims"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, _, err := LoadSaved(path, store, nil)
		if err == nil || got != nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: snapshot %v, err %v; want none and an error naming the file and %q", tc.name, got != nil, err, tc.want)
		}
	}
	if _, _, err := LoadSaved(filepath.Join(dir, "none"), store, nil); err != ErrNoSaved {
		t.Errorf("missing file: err %v, want ErrNoSaved", err)
	}
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
