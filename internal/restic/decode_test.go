package restic

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDecodeSnapshots: restic's listing is decoded one snapshot at a time;
// null and [] are none; garbage or a listing cut short (restic killed part
// way) is an error, never a shorter list taken as whole.
func TestDecodeSnapshots(t *testing.T) {
	one := `{"time":"2026-11-25T02:00:00Z","hostname":"db","tags":["backupwatch-job=dump"],"id":"da77c936","short_id":"da77c936"}`
	for _, tt := range []struct {
		name, in string
		n        int64
		ok       bool
	}{
		{"two", "[" + one + "," + one + "]\n", 2, true},
		{"none", "[]", 0, true},
		{"null", "null\n", 0, true},
		{"cut short", "[" + one + "," + one[:20], 1, false},
		{"no end", "[" + one, 1, false},
		{"garbage", "Fatal: wrong password", 0, false},
		{"an object", `{"hostname":"db"}`, 0, false},
		{"empty", "", 0, false},
	} {
		var got int64
		n, err := DecodeSnapshots(strings.NewReader(tt.in), func(s Snapshot) {
			got++
			if s.Hostname != "db" || len(s.Tags) != 1 {
				t.Errorf("%s: decoded %+v", tt.name, s)
			}
		})
		if (err == nil) != tt.ok || n != tt.n || got != n {
			t.Errorf("%s: %d snapshots (%d handed), err %v; want %d, ok %v", tt.name, n, got, err, tt.n, tt.ok)
		}
	}
}

// FuzzDecodeSnapshots: whatever restic prints, decoding never panics,
// hands over exactly what it counts, and agrees with decoding it whole.
func FuzzDecodeSnapshots(f *testing.F) {
	for _, s := range []string{"[]", "null", `[{"hostname":"db","time":"2026-11-25T02:00:00Z","id":"ab"}]`, `[{"hostname":1}]`, "[", `[{}, {}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var handed int64
		n, err := DecodeSnapshots(strings.NewReader(in), func(Snapshot) { handed++ })
		if handed != n {
			t.Fatalf("counted %d, handed %d", n, handed)
		}
		var whole []Snapshot
		if werr := json.Unmarshal([]byte(in), &whole); werr == nil && err == nil && int64(len(whole)) != n {
			t.Errorf("decoded %d one at a time, %d whole", n, len(whole))
		}
	})
}

// TestEachSnapshotBadOutput: a restic whose listing is not JSON (a little,
// or more than the pipe holds) is a failed listing saying so, at once; one
// that fails says why, not that its (empty) output was not JSON.
func TestEachSnapshotBadOutput(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, script, want string }{
		{"garbage", "echo 'Fatal: not a listing'", "unexpected output"},
		{"much garbage", "yes garbage | head -c 20000000", "unexpected output"},
		{"cut short", `printf '[{"hostname":"db","id":"ab"},{"hostn'`, "unexpected output after 1 snapshots"},
		{"fails", "echo 'Fatal: wrong password or no key found' >&2; exit 12", "wrong password"},
	} {
		bin := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
		if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+tt.script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := Repo{Binary: bin, Env: []string{"PATH=/usr/bin:/bin"}}.EachSnapshot(ctx, "", func(Snapshot) {})
		if ctx.Err() != nil {
			t.Fatalf("%s: the listing outlived a minute", tt.name)
		}
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}
