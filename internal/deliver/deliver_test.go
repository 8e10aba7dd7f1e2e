package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

func newLocal(t *testing.T, spoolDir string, log *bytes.Buffer) *Deliverer {
	t.Helper()
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logger *slog.Logger
	if log != nil {
		logger = slog.New(slog.NewTextHandler(log, nil))
	}
	d, err := New(Options{Store: st, SpoolDir: spoolDir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// What is spooled and what is refused for good: only what can pass later
// waits. (A 403 with a token that still works is refused; the real Vault
// tests in cmd/backupwatch cover that check.)
func TestClassify(t *testing.T) {
	d := newLocal(t, "", nil)
	resp := func(code int, msg string) error { return &api.ResponseError{StatusCode: code, Errors: []string{msg}} }
	vkv := func(op string, kind vaultkv.Kind, err error) error {
		return fmt.Errorf("deliver x: %w", &vaultkv.Error{Op: op, Path: "kv/p/db", Reason: "r", Kind: kind, Err: err})
	}
	for _, tc := range []struct {
		name string
		err  error
		want spool.Verdict
	}{
		{"unreachable", vkv("write", vaultkv.KindUnreachable, errors.New("dial tcp: connection refused")), spool.Down},
		{"sealed", vkv("write", vaultkv.KindSealed, resp(503, "Vault is sealed")), spool.Down},
		{"5xx", vkv("write", vaultkv.KindUnreachable, resp(500, "internal error")), spool.Down},
		{"429", vkv("write", vaultkv.KindOther, resp(429, "rate limit quota exceeded")), spool.Down},
		{"login denied", vkv("log in with", vaultkv.KindDenied, resp(400, "invalid role or secret ID")), spool.Down},
		{"no token", vkv("log in with", vaultkv.KindDenied, nil), spool.Down},
		{"412", vkv("write", vaultkv.KindOther, resp(412, "required index state not present")), spool.Later},
		{"gave up on concurrent changes", vkv("write", vaultkv.KindOther, nil), spool.Later},
		{"a lock held too long", errors.New("write db: another backupwatch kept writing it"), spool.Later},
		{"400", vkv("write", vaultkv.KindOther, resp(400, "invalid request")), spool.Refused},
		{"403 without a token check", vkv("write", vaultkv.KindDenied, resp(403, "permission denied")), spool.Refused},
		{"404 no such mount", vkv("write", vaultkv.KindNotFound, resp(404, "no handler for route")), spool.Refused},
		{"not a KV mount", vkv("detect KV version of", vaultkv.KindOther, nil), spool.Refused},
		{"future", &RefusedError{Err: errors.New("in the future")}, spool.Refused},
	} {
		if got := d.classify(context.Background(), tc.err); got != tc.want {
			t.Errorf("%s: classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDeliverRefusesTheFuture(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	d := newLocal(t, dir, nil)
	res := status.Result{Host: "db", Outcome: status.Success, At: time.Now().Add(time.Hour)}
	dl, err := d.Deliver(context.Background(), spool.Entry{Result: &res}, spool.Retry{Attempts: 3})
	var refused *RefusedError
	if !errors.As(err, &refused) || dl.Spooled != "" || !strings.Contains(err.Error(), "clock skew") {
		t.Errorf("Deliver of a result an hour ahead = %+v, %v; want a refusal, not spooled", dl, err)
	}
	if n, _, _ := d.Spool().Waiting(); n != 0 {
		t.Errorf("%d spooled", n)
	}
}

func TestLogWaitingSaysHowManyAndHowOld(t *testing.T) {
	var log bytes.Buffer
	dir := filepath.Join(t.TempDir(), "spool")
	d := newLocal(t, dir, &log)
	sp := d.Spool()
	for range 2 {
		res := status.Result{Host: "db", Outcome: status.Failed, At: time.Now()}
		if _, err := sp.Add(spool.Entry{Result: &res}); err != nil {
			t.Fatal(err)
		}
	}
	d.now = func() time.Time { return time.Now().Add(90 * time.Minute) }
	d.LogWaiting(0)
	if s := log.String(); !strings.Contains(s, "results waiting in the spool") || !strings.Contains(s, "count=2") || !strings.Contains(s, "oldest_age=1h30m") {
		t.Errorf("log = %q", s)
	}
}

func TestCollector(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	c, err := NewCollector(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP backupwatch_spool_readable 1 if this host's spool could be read at the scrape, 0 if not (then the other spool series are absent).
# TYPE backupwatch_spool_readable gauge
backupwatch_spool_readable 1
# HELP backupwatch_spool_rejected_results Spooled results the store refused for good, set aside in rejected/ until an operator discards them (backupwatch flush --list).
# TYPE backupwatch_spool_rejected_results gauge
backupwatch_spool_rejected_results %d
# HELP backupwatch_spool_results Results waiting in this host's spool because the store could not take them yet.
# TYPE backupwatch_spool_results gauge
backupwatch_spool_results %d
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(fmt.Sprintf(want, 0, 0))); err != nil {
		t.Errorf("no spool yet: %v", err)
	}
	sp, _ := spool.Open(dir)
	var names []string
	for i := range 3 {
		res := status.Result{Host: "db", Outcome: status.Failed, At: time.Now().Add(time.Duration(i) * time.Second)}
		n, err := sp.Add(spool.Entry{Result: &res})
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if _, err := sp.Reject(names[2], errors.New("permission denied")); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(fmt.Sprintf(want, 1, 2)), "backupwatch_spool_results", "backupwatch_spool_rejected_results", "backupwatch_spool_readable"); err != nil {
		t.Errorf("two waiting, one rejected: %v", err)
	}
	if n := testutil.CollectAndCount(c, "backupwatch_spool_oldest_result_timestamp_seconds"); n != 1 {
		t.Errorf("%d oldest timestamp series, want 1", n)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestSummaryIsOneBoundedLine(t *testing.T) {
	code, secs := int64(1), 754.2
	mins := 47.0
	for _, tc := range []struct {
		e    spool.Entry
		want string
	}{
		{spool.Entry{Result: &status.Result{Host: "db", Outcome: status.Failed, ExitCode: &code, Duration: &secs, Message: "line one\nline two\x1b[31m",
			Extra: map[string]string{status.FieldSnapshotID: "abcd1234"}}}, `exit 1, took 12m34s, snapshot abcd1234, "line one line two [31m"`},
		{spool.Entry{Result: &status.Result{Host: "db", Message: strings.Repeat("x", 500)}}, `"` + strings.Repeat("x", 80) + `…"`},
		{spool.Entry{RestoreTest: &status.RestoreTest{Result: status.Passed, HostTested: "db.golemtrust.am", TimeToRestoreMinutes: &mins, Notes: "ok"}}, `of db.golemtrust.am, took 47m, "ok"`},
	} {
		if got := Summary(tc.e); got != tc.want {
			t.Errorf("Summary = %q, want %q", got, tc.want)
		}
	}
}

func TestSpoolDirNamesEachStore(t *testing.T) {
	a := SpoolDir("/s", "vault http://127.0.0.1:8200 kv/golemtrust/backup-status")
	b := SpoolDir("/s", "vault http://127.0.0.1:8200 kv1/golemtrust/backup-status")
	if a == b || filepath.Dir(a) != "/s" || strings.ContainsAny(filepath.Base(a), " /:") {
		t.Errorf("SpoolDir = %q, %q", a, b)
	}
}
