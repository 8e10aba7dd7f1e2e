//go:build unix

package spool

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// A FIFO or a symlink among the entries is set aside without being
// opened: opening a FIFO would block every delivery for ever.
func TestSpecialFilesSetAsideUnopened(t *testing.T) {
	dir := t.TempDir()
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := sp.Add(result("db", status.Failed, t0))
	fifo := "00000000000000000001-0000001-000001.json"
	if err := syscall.Mkfifo(filepath.Join(dir, fifo), 0o600); err != nil {
		t.Fatal(err)
	}
	link := "00000000000000000002-0000001-000001.json"
	os.Symlink(filepath.Join(dir, good), filepath.Join(dir, link))
	type pending struct {
		items    []Item
		problems []Problem
		err      error
	}
	done := make(chan pending, 1)
	go func() {
		items, problems, err := sp.Pending()
		done <- pending{items, problems, err}
	}()
	select {
	case p := <-done:
		if p.err != nil || len(p.items) != 1 || p.items[0].Name != good {
			t.Errorf("Pending = %v, %v; want only %s", p.items, p.err, good)
		}
		if len(p.problems) != 2 {
			t.Errorf("problems = %v, want the FIFO and the symlink", p.problems)
		}
		for _, pr := range p.problems {
			if pr.Moved == "" {
				t.Errorf("%s not set aside: %v", pr.Name, pr)
			}
		}
	case <-time.After(30 * time.Second):
		if f, err := os.OpenFile(filepath.Join(dir, fifo), os.O_RDWR, 0); err == nil {
			f.Close() // let the blocked open go
		}
		t.Fatal("Pending blocked on a FIFO in the spool")
	}
}
