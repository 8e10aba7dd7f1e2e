package spool

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

func TestCorruptFilesSetAside(t *testing.T) {
	dir := t.TempDir()
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	good1, _ := sp.Add(result("db", status.Failed, t0))
	bad := map[string]string{
		"00000000000000000001-0000001-000001.json": "{not json",
		"00000000000000000002-0000001-000001.json": "",
		"00000000000000000003-0000001-000001.json": `{"version":9,"kind":"result","host":"db","at":"2026-03-01T02:00:00Z"}`,
		"00000000000000000004-0000001-000001.json": `{"version":1,"kind":"result","host":"../etc","at":"2026-03-01T02:00:00Z"}`,
		"00000000000000000005-0000001-000001.json": `{"version":1,"kind":"result","host":"db","at":"yesterday"}`,
		"00000000000000000006-0000001-000001.json": `{"version":1,"kind":"result","host":"db","at":"2026-03-01T02:00:00Z","extra_field":1}`,
		"00000000000000000007-0000001-000001.json": `{"version":1,"kind":"restore_test","result":"maybe","last_test":"2026-03-01T02:00:00Z"}`,
		"00000000000000000008-0000001-000001.json": `{"version":1,"kind":"result","host":"db","at":"2026-03-01T02:00:00Z"} trailing`,
		"00000000000000000009-0000001-000001.json": strings.Repeat(" ", maxEntrySize+1),
	}
	for name, content := range bad {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good2, _ := sp.Add(result("db", status.Success, t0.Add(time.Hour)))
	// A temporary file of an interrupted write is not an entry.
	os.WriteFile(filepath.Join(dir, "."+good2+".tmp-123"), []byte("{"), 0o600)

	items, problems, err := sp.Pending()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.Name)
	}
	if want := []string{good1, good2}; !reflect.DeepEqual(got, want) {
		t.Errorf("pending = %v, want %v", got, want)
	}
	if len(problems) != len(bad) {
		t.Errorf("%d problems, want %d: %v", len(problems), len(bad), problems)
	}
	for _, p := range problems {
		if p.Moved == "" {
			t.Errorf("%s not set aside: %v", p.Name, p)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, p.Moved)); err != nil {
			t.Errorf("%s: set-aside file: %v", p.Name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, p.Name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still pending", p.Name)
		}
	}
	// The second look finds nothing more to set aside.
	if _, problems, _ := sp.Pending(); len(problems) != 0 {
		t.Errorf("problems on second look: %v", problems)
	}
}

// A file that cannot be read for a reason of the moment (too many open
// files, an I/O error) is not corrupt: it stays where it is, and nothing
// after it is delivered before it.
func TestUnreadableFileIsNotSetAside(t *testing.T) {
	dir := t.TempDir()
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := sp.Add(result("db", status.Failed, t0))
	second, _ := sp.Add(result("db", status.Success, t0.Add(time.Hour)))
	sp.open = func(name string) (*os.File, error) {
		if filepath.Base(name) == first {
			return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EMFILE}
		}
		return os.Open(name)
	}
	items, problems, err := sp.Pending()
	if !errors.Is(err, syscall.EMFILE) || len(items) != 0 || len(problems) != 0 {
		t.Errorf("Pending = %d items, problems %v, err %v; want nothing and the error", len(items), problems, err)
	}
	fr := sp.Flush(context.Background(), FlushOptions{Retry: Retry{Attempts: 1}, Deliver: func(context.Context, Entry) error { return nil }})
	if len(fr.Delivered) != 0 || fr.Err == nil {
		t.Errorf("Flush delivered %d, err %v; want none delivered and the error", len(fr.Delivered), fr.Err)
	}
	sp.open = openNoFollow
	items, problems, err = sp.Pending()
	if err != nil || len(problems) != 0 || len(items) != 2 || items[0].Name != first || items[1].Name != second {
		t.Errorf("Pending once readable = %v, %v, %v; want both, in order", items, problems, err)
	}
}

// TestListChangesNothing: List reads what Pending does, but an unreadable
// file is reported and stays where it is (flush --list changes nothing).
func TestListChangesNothing(t *testing.T) {
	dir := t.TempDir()
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := sp.Add(result("db", status.Failed, t0))
	bad := "00000000000000000001-0000001-000001.json"
	if err := os.WriteFile(filepath.Join(dir, bad), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	items, problems, err := sp.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Name != good {
		t.Errorf("listed %v, want %s", entries(t, items), good)
	}
	if len(problems) != 1 || problems[0].Name != bad || problems[0].Moved != "" {
		t.Errorf("problems = %v, want %s reported, not moved", problems, bad)
	}
	if _, err := os.Stat(filepath.Join(dir, bad)); err != nil {
		t.Errorf("unreadable file moved by List: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, corruptDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List made %s: %v", corruptDir, err)
	}
}
