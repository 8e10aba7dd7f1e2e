package spool

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzDecode: whatever a spool file holds, reading it never panics, and an
// entry read is written back as an entry that reads the same: what an
// upgrade or a flush reads is what was meant. Seeds: testdata/entries.
func FuzzDecode(f *testing.F) {
	seeds, err := filepath.Glob("testdata/entries/*.json")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed entries in testdata/entries: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if _, _, err := decode(b); err != nil {
			f.Fatalf("seed %s: %v", p, err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, spooledAt, err := decode(b)
		if err != nil {
			return
		}
		if spooledAt.IsZero() {
			spooledAt = time.Unix(1_700_000_000, 0)
		}
		once, err := encode(e, spooledAt)
		if err != nil {
			t.Fatalf("entry read from %q cannot be spooled again: %v", b, err)
		}
		e2, _, err := decode(once)
		if err != nil {
			t.Fatalf("entry spooled as %s cannot be read back: %v", once, err)
		}
		twice, err := encode(e2, spooledAt)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("entry changed when spooled again (%v):\n%s\n%s", err, once, twice)
		}
		if e.Key() == "" || e.At().IsZero() {
			t.Errorf("entry without key or time: %s", e)
		}
	})
}
