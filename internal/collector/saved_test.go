package collector

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// lines are the lines of text that start with prefix, sorted.
func lines(text []byte, prefix string) []string {
	var out []string
	for l := range strings.Lines(string(text)) {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// TestRestartExportsSavedSnapshot: a restarted collector exports the
// snapshot its predecessor saved before any refresh, every host series
// as it was, marked from disk and without backupwatch_store_up; the first
// refresh that reaches the store clears the mark.
func TestRestartExportsSavedSnapshot(t *testing.T) {
	src := writeStore(t, fleetRecords)
	path := filepath.Join(t.TempDir(), "snapshot.json.gz")
	now := testNow
	opts := Options{Source: src, Expected: []string{"metrics"}, SavedFile: path, StoreName: src.String(), Now: func() time.Time { return now }}
	before := New(opts)
	hb := NewHandler(before, nil, nil)
	before.Refresh(context.Background())
	before.save()
	was, _ := fetch(t, hb, false)

	after := New(opts)
	ha := NewHandler(after, nil, nil)
	after.loadSaved()
	if !after.Ready() {
		t.Fatalf("not ready with a saved snapshot")
	}
	got, _ := fetch(t, ha, false)
	if g, w := lines(got, "backup_"), lines(was, "backup_"); !slices.Equal(g, w) {
		t.Errorf("host series after the restart differ:\n%s\nwant:\n%s", strings.Join(g, ""), strings.Join(w, ""))
	}
	for _, want := range []string{"backupwatch_snapshot_from_disk 1\n", "backupwatch_hosts "} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("no %q after the restart", want)
		}
	}
	if bytes.Contains(got, []byte("backupwatch_store_up")) {
		t.Errorf("backupwatch_store_up exported before the first refresh")
	}
	after.Refresh(context.Background())
	got, _ = fetch(t, ha, false)
	for _, want := range []string{"backupwatch_snapshot_from_disk 0\n", "backupwatch_store_up 1\n"} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("no %q after the first refresh", want)
		}
	}
}

// TestSavedSnapshotRefused: a damaged, foreign or other store's snapshot
// is ignored with a warning naming the file: nothing is exported until
// the first refresh.
func TestSavedSnapshotRefused(t *testing.T) {
	src := writeStore(t, fleetRecords)
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.json.gz")
	saver := New(Options{Source: src, SavedFile: path, StoreName: "vault https://elsewhere kv/other"})
	saver.Refresh(context.Background())
	saver.save()
	for _, tc := range []struct {
		name string
		data func() []byte
	}{
		{"another store's", func() []byte { b, _ := os.ReadFile(path); return b }},
		{"garbage", func() []byte { return []byte("\x1f\x8b garbage") }},
		{"a text file", func() []byte { return []byte("hosts: [a, b]\n") }},
	} {
		p := filepath.Join(dir, "restart.json.gz")
		if err := os.WriteFile(p, tc.data(), 0o600); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		c := New(Options{Source: src, SavedFile: p, StoreName: src.String(), Logger: slog.New(slog.NewTextHandler(&log, nil))})
		c.loadSaved()
		if c.Ready() {
			t.Errorf("%s: exported before the first refresh", tc.name)
		}
		if !strings.Contains(log.String(), "ignoring the saved snapshot") || !strings.Contains(log.String(), p) {
			t.Errorf("%s: log %q does not say the file was ignored", tc.name, log.String())
		}
	}
}
