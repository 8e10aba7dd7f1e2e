package spool

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestSpoolInAnOddPath: a spool whose path has spaces and letters beyond
// ASCII (a Windows profile, %ProgramData% on a localized system, a share
// mounted as "Backup Wächter") keeps, lists, locks and removes as any other.
func TestSpoolInAnOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Backup Wächter ø", "spool 日本")
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := []Entry{result("db", status.Failed, t0), result("web", status.Success, t0.Add(time.Minute))}
	for _, e := range in {
		if _, err := sp.Add(e); err != nil {
			t.Fatalf("Add(%s): %v", e, err)
		}
	}
	items, problems, err := sp.Pending()
	if err != nil || len(problems) > 0 {
		t.Fatalf("Pending = %v, %v", problems, err)
	}
	if got, want := entries(t, items), []string{in[0].String(), in[1].String()}; !reflect.DeepEqual(got, want) {
		t.Errorf("Pending = %q, want %q", got, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	unlock, err := sp.LockKey(ctx, "db")
	if err != nil {
		t.Fatalf("LockKey: %v", err)
	}
	unlock()
	unlock, err = sp.Lock(ctx)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	unlock()
	for _, it := range items {
		if err := sp.Remove(it.Name); err != nil {
			t.Errorf("Remove(%s): %v", it.Name, err)
		}
	}
	if n, err := sp.Count(); n != 0 || err != nil {
		t.Errorf("Count after removing all = %d, %v", n, err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("spool directory: %v", err)
	}
}
