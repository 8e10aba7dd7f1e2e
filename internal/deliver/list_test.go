package deliver

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestWriteList: one line an entry, under the header, waiting and set
// aside told apart, a restore test without a host key, and an age only
// where the file says when it was spooled.
func TestWriteList(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := now.Add(-time.Hour)
	ws := []Waiting{
		{Item: spool.Item{Name: "0001-db.json", SpooledAt: now.Add(-90 * time.Second),
			Entry: spool.Entry{Result: &status.Result{Host: "db", Outcome: status.Success, At: at}}}},
		{Item: spool.Item{Name: "0002-web.json",
			Entry: spool.Entry{Result: &status.Result{Host: "web", Job: "nightly", Outcome: status.Failed, At: at, Message: "disk\nfull"}}}, Rejected: true},
	}
	var b strings.Builder
	if err := WriteList(&b, ws, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("want a header and two lines:\n%s", b.String())
	}
	for i, want := range [][]string{
		{"0001-db", "waiting", "db", "success", status.FormatTime(at), "1m30s"},
		{"0002-web", "rejected", status.Key("web", "nightly"), status.Failed, "disk full"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %d %q: want %q in it", i+1, lines[i+1], w)
			}
		}
	}
}

func TestFlushError(t *testing.T) {
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name string
		fr   spool.FlushResult
		want string
	}{
		{"all delivered", spool.FlushResult{Delivered: []spool.Item{{}}}, ""},
		{"waiting", spool.FlushResult{Remaining: 2, Err: down}, "2 results still waiting in /s: connection refused"},
		{"refused", spool.FlushResult{Rejected: []spool.Rejection{{Err: down}}}, "1 results refused for good by the store, set aside in /s/rejected"},
	} {
		err := FlushError(tc.fr, "/s")
		if got := fmtErr(err); (tc.want == "") != (err == nil) || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
