package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

var t0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

func result(host, outcome string, at time.Time) Entry {
	code := int64(0)
	if outcome == status.Failed {
		code = 1
	}
	d := 12.5
	return Entry{Result: &status.Result{
		Host: host, Outcome: outcome, At: at, ExitCode: &code, Duration: &d,
		Message: "m " + outcome, Extra: map[string]string{status.FieldSnapshotID: "abcd1234"},
	}}
}

func entries(t *testing.T, items []Item) []string {
	t.Helper()
	var out []string
	for _, it := range items {
		out = append(out, it.Entry.String())
	}
	return out
}

func TestAddPendingRoundTrip(t *testing.T) {
	sp, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mins := 47.5
	in := []Entry{
		{Result: &status.Result{Host: "db", At: t0}}, // an attempt
		result("db", status.Failed, t0.Add(time.Minute)),
		{RestoreTest: &status.RestoreTest{LastTest: t0, Result: status.Passed, HostTested: "db.golemtrust.am", TimeToRestoreMinutes: &mins, Notes: "ok"}},
		result("auth", status.Success, t0.Add(-time.Hour)), // older, but added later: order is the order of adding
	}
	for _, e := range in {
		if _, err := sp.Add(e); err != nil {
			t.Fatalf("Add(%s): %v", e, err)
		}
	}
	items, problems, err := sp.Pending()
	if err != nil || len(problems) > 0 {
		t.Fatalf("Pending: problems %v, err %v", problems, err)
	}
	if len(items) != len(in) {
		t.Fatalf("got %d items, want %d", len(items), len(in))
	}
	for i, it := range items {
		if !reflect.DeepEqual(it.Entry, in[i]) {
			t.Errorf("item %d = %+v, want %+v", i, it.Entry, in[i])
		}
	}
	if n, _ := sp.Count(); n != len(in) {
		t.Errorf("Count = %d, want %d", n, len(in))
	}
}

func TestAddRefusesInvalid(t *testing.T) {
	sp, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{
		{},
		{Result: &status.Result{Host: "bad host", At: t0}},
		{Result: &status.Result{Host: "db", Outcome: "maybe", At: t0}},
		{Result: &status.Result{Host: "db", Outcome: status.Success}}, // no time
		{RestoreTest: &status.RestoreTest{LastTest: t0, Result: status.Unknown}},
	} {
		if name, err := sp.Add(e); err == nil {
			t.Errorf("Add(%+v) = %s, want an error", e, name)
		}
	}
	if n, _ := sp.Count(); n != 0 {
		t.Errorf("%d files spooled, want none", n)
	}
}

// Names order entries even when they are added within the same
// nanosecond, and across processes by time.
func TestOrderWithinOneInstant(t *testing.T) {
	sp, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sp.now = func() time.Time { return t0 }
	var want []string
	for i := range 50 {
		e := result("db", status.Failed, t0.Add(time.Duration(i)*time.Second))
		if _, err := sp.Add(e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e.String())
	}
	items, _, err := sp.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(t, items); !reflect.DeepEqual(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

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

func TestFlushStopsAtFirstFailureAndKeepsOrder(t *testing.T) {
	sp, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 5 {
		e := result("db", status.Failed, t0.Add(time.Duration(i)*time.Minute))
		sp.Add(e)
		want = append(want, e.String())
	}
	var delivered []string
	calls := 0
	down := errors.New("vault unreachable")
	fr := sp.Flush(context.Background(), FlushOptions{Retry: Retry{Attempts: 3}, Deliver: func(ctx context.Context, e Entry) error {
		calls++
		if len(delivered) == 2 {
			return down
		}
		delivered = append(delivered, e.String())
		return nil
	}})
	if !errors.Is(fr.Err, down) || fr.Remaining != 3 || len(fr.Delivered) != 2 {
		t.Fatalf("flush = delivered %d, remaining %d, err %v; want 2, 3, %v", len(fr.Delivered), fr.Remaining, fr.Err, down)
	}
	if calls != 2+3 {
		t.Errorf("%d delivery calls, want 5 (2 delivered, 3 attempts at the third)", calls)
	}
	if n, _ := sp.Count(); n != 3 {
		t.Errorf("%d files left, want 3", n)
	}
	fr = sp.Flush(context.Background(), FlushOptions{Retry: Retry{Attempts: 1}, Deliver: func(ctx context.Context, e Entry) error {
		delivered = append(delivered, e.String())
		return nil
	}})
	if fr.Err != nil || fr.Remaining != 0 {
		t.Fatalf("second flush: remaining %d, err %v", fr.Remaining, fr.Err)
	}
	if !reflect.DeepEqual(delivered, want) {
		t.Errorf("delivered %v, want %v", delivered, want)
	}
}

func TestRetryBacksOffAndStopsOnCancel(t *testing.T) {
	var gaps []time.Duration
	last := time.Now()
	err := Retry{Attempts: 4, Backoff: time.Millisecond, MaxDelay: 4 * time.Millisecond}.Try(context.Background(), func(context.Context) error {
		gaps = append(gaps, time.Since(last))
		last = time.Now()
		return errors.New("no")
	})
	if err == nil || len(gaps) != 4 {
		t.Fatalf("Try: %d attempts, err %v; want 4 and an error", len(gaps), err)
	}
	// Lower bounds only: the backoff waited at least 1, 2 and 4ms.
	for i, min := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond} {
		if gaps[i+1] < min {
			t.Errorf("wait before attempt %d = %v, want at least %v", i+2, gaps[i+1], min)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	Retry{Attempts: 100, Backoff: time.Hour}.Try(ctx, func(context.Context) error {
		n++
		cancel()
		return errors.New("no")
	})
	if n != 1 {
		t.Errorf("%d attempts after cancel, want 1", n)
	}
}

func TestLockExcludesOtherHolders(t *testing.T) {
	sp, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := sp.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := sp.Lock(ctx); err == nil {
		t.Fatal("second Lock succeeded while the first is held")
	}
	var wg sync.WaitGroup
	got := make(chan error, 1)
	wg.Go(func() {
		u, err := sp.Lock(context.Background())
		if err == nil {
			u()
		}
		got <- err
	})
	unlock()
	wg.Wait()
	if err := <-got; err != nil {
		t.Errorf("Lock after unlock: %v", err)
	}
}

// A full file system is a clear error naming the spool, and leaves no
// partial file behind. The file system is a real, tiny tmpfs.
func TestFullDiskIsAClearError(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs (this test needs root, as `make test` runs in CI): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Fill it up.
	filler, err := os.Create(filepath.Join(dir, ".filler"))
	if err != nil {
		t.Fatal(err)
	}
	filler.Write(bytes.Repeat([]byte{'x'}, 128<<10))
	filler.Close()

	e := result("db", status.Failed, t0)
	e.Result.Message = strings.Repeat("m", 1000)
	_, err = sp.Add(e)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Add on a full disk: %v, want ErrFull", err)
	}
	for _, want := range []string{dir, "no space left", "failed result of db"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n, _ := sp.Count(); n != 0 {
		t.Errorf("%d entries after a failed Add, want 0", n)
	}
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if strings.Contains(de.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", de.Name())
		}
	}
}

// Replays never move a host backwards: whatever order the results arrive
// in, and however often, the record ends up as if they had arrived in
// order, once each.
func TestReplayNeverMovesBackwards(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	att := func(m int) status.Result { return status.Result{Host: "db", At: at(m)} }
	res := func(o string, m int) status.Result { return *result("db", o, at(m)).Result }
	tests := []struct {
		name string
		seq  []status.Result
	}{
		{"in order", []status.Result{att(0), res(status.Failed, 1), att(2), res(status.Success, 3)}},
		{"old failure replayed after success", []status.Result{att(2), res(status.Success, 3), att(0), res(status.Failed, 1)}},
		{"old success replayed after failure", []status.Result{res(status.Failed, 3), res(status.Success, 1)}},
		{"same failure twice", []status.Result{res(status.Failed, 1), res(status.Failed, 1)}},
		{"two failures then the first again", []status.Result{res(status.Failed, 1), res(status.Failed, 2), res(status.Failed, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			for _, r := range tt.seq {
				doc, _ = status.Apply(doc, r)
			}
			// The reference: each distinct result once, in time order.
			var ordered []status.Result
			seen := map[string]bool{}
			for _, r := range tt.seq {
				k := fmt.Sprint(r.Outcome, r.At)
				if !seen[k] {
					seen[k] = true
					ordered = append(ordered, r)
				}
			}
			for i := range ordered {
				for j := i + 1; j < len(ordered); j++ {
					if ordered[j].At.Before(ordered[i].At) {
						ordered[i], ordered[j] = ordered[j], ordered[i]
					}
				}
			}
			var want map[string]any
			for _, r := range ordered {
				want, _ = status.Apply(want, r)
			}
			if !reflect.DeepEqual(doc, want) {
				t.Errorf("record after %s:\n got %v\nwant %v", tt.name, doc, want)
			}
		})
	}
}

func TestRefusesASpoolOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Add(result("db", status.Failed, t0)); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	if _, _, err := sp.Pending(); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("Pending on a world-writable spool: %v, want a refusal", err)
	}
	if _, err := sp.Lock(context.Background()); err == nil {
		t.Error("Lock on a world-writable spool succeeded")
	}
}

// A spool another user made (and so can fill) is refused too.
func TestRefusesASpoolOfAnotherUser(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	os.Mkdir(dir, 0o700)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatalf("chown (the tests run as root, `make test`): %v", err)
	}
	sp, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sp.Pending(); err == nil || !strings.Contains(err.Error(), "not to this user") {
		t.Errorf("Pending on another user's spool: %v, want a refusal", err)
	}
	if _, err := sp.Add(result("db", status.Failed, t0)); err == nil {
		t.Error("Add to another user's spool succeeded")
	}
}

func TestLongMessageIsBounded(t *testing.T) {
	sp, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := result("db", status.Failed, t0)
	e.Result.Message = strings.Repeat("é", 2<<20)
	if _, err := sp.Add(e); err != nil {
		t.Fatal(err)
	}
	items, problems, err := sp.Pending()
	if err != nil || len(problems) != 0 || len(items) != 1 {
		t.Fatalf("Pending: %d items, problems %v, err %v", len(items), problems, err)
	}
	if n := len(items[0].Entry.Result.Message); n > maxText+4 {
		t.Errorf("message of %d bytes kept, want at most %d", n, maxText)
	}
}
