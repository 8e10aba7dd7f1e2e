package localstore

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestWatch: writes of a host's record, of its jobs' (the jobs folder
// created after the watch started), of restore tests and of pauses name
// the record;
// the lock file names none.
func TestWatch(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hosts := make(chan string, 100) // host@job
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(ctx, slog.New(slog.DiscardHandler), func(id status.JobID) { hosts <- id.Host + "@" + id.Job })
	}()
	want := func(host string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case h := <-hosts:
				if h == host {
					return
				}
				if h != "db@" && h != status.RestoreTestKey+"@" && h != status.RestoreTestKey+"@weekly" && h != "web@files" && h != "mail@" {
					t.Errorf("changed(%q): not a host written", h)
				}
			case <-deadline:
				t.Fatalf("no change reported for %s within 20s", host)
			}
		}
	}
	put := func(key string) {
		t.Helper()
		if err := s.Update(ctx, key, func(map[string]any) (map[string]any, bool, error) {
			return map[string]any{"status": "success"}, true, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The watch starts asynchronously: write until the first is seen.
	for seen := false; !seen; {
		put("db")
		select {
		case h := <-hosts:
			seen = h == "db@"
		case <-time.After(100 * time.Millisecond):
		}
	}
	put(status.RestoreTestKey)
	put(status.Key(status.RestoreTestKey, "weekly"))
	put(status.Key("web", "files"))
	want("web@files")
	// A pause names its host or job (the pauses folder, too, created
	// after the watch started): serve reads the pause with the record.
	put(status.PauseKey("mail", ""))
	want("mail@")
	put(status.PauseKey("mail", "files"))
	want("mail@files")
	cancel()
	<-done
}

// TestWatchFails: a watch that cannot start says so once, and returns.
func TestWatchFails(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.Dir()); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Watch(context.Background(), slog.New(slog.NewTextHandler(&log, nil)), func(status.JobID) {})
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Watch on a missing directory did not return")
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 || !strings.Contains(log.String(), "full re-read") {
		t.Errorf("log = %q, want one warning naming the full re-read", log.String())
	}
}
