package backuprun

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/ping"
	"github.com/golemtrust/backupwatch/internal/status"
)

// pingsTo is a stand-in healthchecks recording each ping as "path body".
func pingsTo(t *testing.T) (url string, got func() []string) {
	var mu sync.Mutex
	var pings []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		pings = append(pings, r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/ping/0f2a4b6c-1d3e", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), pings...)
	}
}

// TestBackupPings: start and end reach the checker, the end with the
// recorded reason and the output's tail, scrubbed; the record is the one
// a run without pings writes, plus its ping_failures.
func TestBackupPings(t *testing.T) {
	u, got := pingsTo(t)
	b, st := backupTo(t, "sh", "-c", "echo 'password hunter2hunter2 rejected'; echo 'Fatal: wrong password or no key found' >&2; exit 1")
	b.Scrubber = NewScrubber(nil, nil, "hunter2hunter2")
	b.Scrubber.Add(ping.Secrets(u)...)
	p, err := ping.New(ping.Healthchecks, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Ping = p
	if code, _ := b.Run(context.Background()); code != 1 {
		t.Fatalf("exit: got %d, want 1", code)
	}
	pings := got()
	if len(pings) != 2 || !strings.HasPrefix(pings[0], "/ping/0f2a4b6c-1d3e/start run of host db started: sh -c") || !strings.HasPrefix(pings[1], "/ping/0f2a4b6c-1d3e/fail ") {
		t.Fatalf("pings: got %q, want start then fail", pings)
	}
	end := pings[1]
	for _, want := range []string{"run of host db: failed: exit status 1\nFatal: wrong password or no key found", "stderr: Fatal: wrong password", "stdout: password " + Redacted} {
		if !strings.Contains(end, want) {
			t.Errorf("end ping body %q: want %q", end, want)
		}
	}
	if strings.Contains(end, "hunter2") {
		t.Errorf("end ping body holds a secret: %q", end)
	}
	rec := storedRecord(t, st, "db")
	if rec["status"] != status.Failed || rec["message"] != "exit status 1\nFatal: wrong password or no key found" || rec["ping_failures"] != "0" {
		t.Errorf("record: got %v, want failed with restic's line and ping_failures 0", rec)
	}
}

// TestBackupCheckerDown: a checker that is down costs a bounded time and
// a warning; the exit code and the record are the run's, with the failed
// pings counted.
func TestBackupCheckerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String() + "/ping/x"
	l.Close()
	b, st := backupTo(t, "sh", "-c", "exit 0")
	p, _ := ping.New(ping.Healthchecks, u, nil)
	p.Budget, p.Backoff = 200*time.Millisecond, 10*time.Millisecond
	b.Ping = p
	code, err := b.Run(context.Background())
	if code != 0 || err != nil {
		t.Fatalf("run: got %d, %v; want 0, nil", code, err)
	}
	rec := storedRecord(t, st, "db")
	if rec["status"] != status.Success || rec["ping_failures"] != "2" {
		t.Errorf("record: got %v, want success with ping_failures 2", rec)
	}
}
