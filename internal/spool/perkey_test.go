package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

var (
	errLater   = errors.New("this key, for now")
	errDown    = errors.New("store down")
	errRefused = errors.New("permission denied")
)

func classifyTest(err error) Verdict {
	switch {
	case errors.Is(err, errRefused):
		return Refused
	case errors.Is(err, errDown):
		return Down
	}
	return Later
}

func addAll(t *testing.T, sp *Spool, es ...Entry) []string {
	t.Helper()
	var names []string
	for _, e := range es {
		n, err := sp.Add(e)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// One key that cannot be written (or one entry refused for good) never
// holds up the results of other keys; within a key the order is kept.
func TestFlushOrdersPerKey(t *testing.T) {
	mins := 3.0
	rt := Entry{RestoreTest: &status.RestoreTest{LastTest: t0, Result: status.Passed, HostTested: "db", TimeToRestoreMinutes: &mins}}
	for _, tc := range []struct {
		name          string
		fail          map[string]error // per key
		wantDelivered []string
		wantWaiting   map[string]int
		wantRejected  []string
		wantHalted    bool
	}{
		{
			name:          "db cannot be written for now",
			fail:          map[string]error{"db": errLater},
			wantDelivered: []string{"success result of web at 2026-03-01T02:01:00+00:00", "passed restore test at 2026-03-01T02:00:00+00:00", "failed result of web at 2026-03-01T02:04:00+00:00"},
			wantWaiting:   map[string]int{"db": 2},
		},
		{
			name:          "db refused for good",
			fail:          map[string]error{"db": errRefused},
			wantDelivered: []string{"success result of web at 2026-03-01T02:01:00+00:00", "passed restore test at 2026-03-01T02:00:00+00:00", "failed result of web at 2026-03-01T02:04:00+00:00"},
			wantWaiting:   map[string]int{},
			wantRejected:  []string{"failed result of db at 2026-03-01T02:00:00+00:00", "success result of db at 2026-03-01T02:02:00+00:00"},
		},
		{
			name:        "store down",
			fail:        map[string]error{"db": errDown, "web": errDown, status.RestoreTestKey: errDown},
			wantWaiting: map[string]int{"db": 2, "web": 2, status.RestoreTestKey: 1},
			wantHalted:  true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, _ := Open(t.TempDir())
			addAll(t, sp,
				result("db", status.Failed, t0),
				result("web", status.Success, t0.Add(time.Minute)),
				result("db", status.Success, t0.Add(2*time.Minute)),
				rt,
				result("web", status.Failed, t0.Add(4*time.Minute)),
			)
			var delivered []string
			calls := 0
			fr := sp.Flush(context.Background(), FlushOptions{
				Retry:    Retry{Attempts: 2},
				Classify: classifyTest,
				Deliver: func(ctx context.Context, e Entry) error {
					calls++
					if err := tc.fail[e.Key()]; err != nil {
						return err
					}
					delivered = append(delivered, e.String())
					return nil
				},
			})
			if !reflect.DeepEqual(delivered, tc.wantDelivered) {
				t.Errorf("delivered %q, want %q", delivered, tc.wantDelivered)
			}
			if !reflect.DeepEqual(fr.Waiting, tc.wantWaiting) || fr.Halted != tc.wantHalted {
				t.Errorf("waiting %v halted %v, want %v %v", fr.Waiting, fr.Halted, tc.wantWaiting, tc.wantHalted)
			}
			var rejected []string
			for _, r := range fr.Rejected {
				rejected = append(rejected, r.Item.Entry.String())
				if r.Moved == "" || !errors.Is(r.Err, errRefused) {
					t.Errorf("rejection %+v: want it moved, with the refusal", r)
				}
			}
			if !reflect.DeepEqual(rejected, tc.wantRejected) {
				t.Errorf("rejected %q, want %q", rejected, tc.wantRejected)
			}
			if tc.wantHalted && calls != 2 {
				t.Errorf("%d delivery calls with the store down, want 2 (the first entry's attempts)", calls)
			}
			if n, _ := sp.Count(); n != fr.Remaining {
				t.Errorf("%d files left, FlushResult.Remaining %d", n, fr.Remaining)
			}
			if fr.Waits("web") != tc.wantHalted || fr.Waits("db") != (tc.wantWaiting["db"] > 0) {
				t.Errorf("Waits(web) = %v, Waits(db) = %v", fr.Waits("web"), fr.Waits("db"))
			}
			got, err := sp.Rejected()
			if err != nil || len(got) != len(tc.wantRejected) {
				t.Errorf("Rejected() = %d items, %v; want %d", len(got), err, len(tc.wantRejected))
			}
			if n, _ := sp.RejectedCount(); n != len(tc.wantRejected) {
				t.Errorf("RejectedCount = %d, want %d", n, len(tc.wantRejected))
			}
			for _, it := range got {
				b, err := os.ReadFile(filepath.Join(sp.Dir(), rejectedDir, it.ID()+".reason"))
				if err != nil || !strings.Contains(string(b), "permission denied") {
					t.Errorf("reason of %s = %q, %v", it.ID(), b, err)
				}
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	sp, _ := Open(t.TempDir())
	names := addAll(t, sp, result("db", status.Failed, t0), result("db", status.Success, t0.Add(time.Minute)), result("web", status.Success, t0))
	if _, err := sp.Reject(names[2], errRefused); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id   string
		want string // entry discarded, or "" for ErrNoEntry
	}{
		{strings.TrimSuffix(names[0], ext), "failed result of db at 2026-03-01T02:00:00+00:00"},
		{names[1], "success result of db at 2026-03-01T02:01:00+00:00"},
		{strings.TrimSuffix(names[2], ext), "success result of web at 2026-03-01T02:00:00+00:00"}, // from rejected/
		{names[0], ""}, // gone
		{"../../etc/passwd", ""},
		{"rejected/" + names[2], ""},
		{"", ""},
		{".lock", ""},
	} {
		it, err := sp.Discard(tc.id)
		switch {
		case tc.want == "" && !errors.Is(err, ErrNoEntry):
			t.Errorf("Discard(%q) = %v, %v; want ErrNoEntry", tc.id, it, err)
		case tc.want != "" && (err != nil || it.Entry.String() != tc.want):
			t.Errorf("Discard(%q) = %v, %v; want %s", tc.id, it.Entry, err, tc.want)
		}
	}
	if n, _ := sp.Count(); n != 0 {
		t.Errorf("%d entries left", n)
	}
	if des, _ := os.ReadDir(filepath.Join(sp.Dir(), rejectedDir)); len(des) != 0 {
		t.Errorf("rejected/ still holds %d files", len(des))
	}
}

func TestWaitingCountsAndDatesTheOldest(t *testing.T) {
	sp, _ := Open(filepath.Join(t.TempDir(), "spool"))
	if n, oldest, err := sp.Waiting(); n != 0 || !oldest.IsZero() || err != nil {
		t.Errorf("Waiting of no spool = %d, %v, %v", n, oldest, err)
	}
	added := t0.Add(-3 * time.Hour)
	sp.now = func() time.Time { return added }
	addAll(t, sp, result("db", status.Failed, t0))
	sp.now = func() time.Time { return added.Add(time.Hour) }
	addAll(t, sp, result("db", status.Failed, t0), result("web", status.Failed, t0))
	n, oldest, err := sp.Waiting()
	if n != 3 || !oldest.Equal(added) || err != nil {
		t.Errorf("Waiting = %d, %v, %v; want 3, %v", n, oldest, err, added)
	}
	items, _, _ := sp.Pending()
	if !items[0].SpooledAt.Equal(added) {
		t.Errorf("SpooledAt = %v, want %v", items[0].SpooledAt, added)
	}
}

func TestLockKey(t *testing.T) {
	sp, _ := Open(filepath.Join(t.TempDir(), "spool"))
	unlock, err := sp.LockKey(context.Background(), "db")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := sp.LockKey(ctx, "db"); err == nil {
		t.Errorf("second lock of db while held: no error")
	}
	other, err := sp.LockKey(context.Background(), "web")
	if err != nil {
		t.Errorf("lock of another key while db is held: %v", err)
	} else {
		other()
	}
	unlock()
	if _, err := os.Stat(filepath.Join(sp.Dir(), keyLockDir, "db.lock")); err != nil {
		t.Errorf("lock file: %v", err)
	}
	if n, _ := sp.Count(); n != 0 {
		t.Errorf("lock files count as %d entries", n)
	}
	os.Symlink("/etc/passwd", filepath.Join(sp.Dir(), keyLockDir, "auth.lock"))
	if _, err := sp.LockKey(context.Background(), "auth"); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("lock through a symlink = %v, want a refusal", err)
	}
	for _, key := range []string{"../x", ".hidden", "a/b"} {
		if n := keyFileName(key); strings.ContainsAny(n, "/") || strings.HasPrefix(n, ".") {
			t.Errorf("keyFileName(%q) = %q", key, n)
		}
	}
}
