package localstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

func TestConcurrentWritersLoseNothing(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const writers, each = 16, 10
	base := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				// Each writer owns one field; all share the key.
				err := s.Update(ctx, "db", func(old map[string]any) (map[string]any, bool, error) {
					if old == nil {
						old = map[string]any{}
					}
					old[fmt.Sprintf("w%d", w)] = fmt.Sprint(i)
					doc, _ := status.Apply(old, status.Result{Outcome: status.Success, At: base.Add(time.Duration(w*each+i) * time.Second)})
					return doc, true, nil
				})
				if err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	doc, err := s.Get(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < writers; w++ {
		if got := doc[fmt.Sprintf("w%d", w)]; got != fmt.Sprint(each-1) {
			t.Errorf("w%d = %v, want %d", w, got, each-1)
		}
	}
	if got, want := doc["last_success"], status.FormatTime(base.Add((writers*each-1)*time.Second)); got != want {
		t.Errorf("last_success = %v, want %v", got, want)
	}
}

func TestListGetDelete(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"db", "auth", status.RestoreTestKey} {
		if err := s.Update(ctx, k, func(map[string]any) (map[string]any, bool, error) {
			return map[string]any{"status": "success"}, true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Stray files a reader must not take for records.
	os.WriteFile(filepath.Join(dir, ".db.json.tmp-123"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{not json"), 0o600)

	keys, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(keys, ","), "auth,broken,db,restore-test"; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	if _, err := s.Get(ctx, "broken"); err == nil || !strings.Contains(err.Error(), "read broken: malformed record: not a JSON object") {
		t.Errorf("Get(broken) = %v, want a clear error", err)
	}
	if err := s.Delete(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "db"); !errors.Is(err, status.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "db"); err != nil {
		t.Errorf("deleting a missing record: %v", err)
	}
	for _, bad := range []string{"", "../x", "a/b", ".lock"} {
		if _, err := s.Get(ctx, bad); err == nil || errors.Is(err, status.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want an invalid key error", bad, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(left) != 1 { // only the one planted above
		t.Errorf("temporary files left behind: %v", left)
	}
}
