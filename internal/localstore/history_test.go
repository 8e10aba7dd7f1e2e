package localstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestHistoryInRecord: the local store keeps a record's history in its
// file, bounded, with no file of its own.
func TestHistoryInRecord(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeHistory(t, s, "db", 40)
	rec, err := s.Get(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rec[status.FieldHistory]; ok {
		t.Error("Get read the history: serve's refresh would pay for it")
	}
	doc, err := s.Detail(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if h, problems := status.History(doc); len(h) != status.HistoryLen || len(problems) > 0 {
		t.Errorf("history: %d entries, problems %v", len(h), problems)
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir(), "db.history")); err != nil || strings.Count(string(b), "\n") != status.HistoryLen-1 {
		t.Errorf("db.history: %v, %q", err, b)
	}
	if keys, err := s.List(ctx); err != nil || len(keys) != 1 {
		t.Errorf("keys %q, %v; want the record only", keys, err)
	}
}

func writeHistory(tb testing.TB, s *Store, host string, n int) {
	tb.Helper()
	base := time.Now().Add(-90 * 24 * time.Hour).Truncate(time.Second)
	for i := range n {
		code, d := int64(0), 312.5+float64(i)
		outcome := status.Success
		if i%7 == 3 {
			code, outcome = 1, status.Failed
		}
		res := status.Result{Host: host, Outcome: outcome, At: base.Add(time.Duration(i) * 24 * time.Hour), ExitCode: &code, Duration: &d,
			Message: "exit status 1\nFatal: unable to open repository: connection refused",
			Extra:   map[string]string{status.FieldFilesProcessed: strconv.Itoa(120000 + i), status.FieldBytesProcessed: strconv.Itoa(52000000000 + i)}}
		if err := s.Update(context.Background(), res.Key(), func(old map[string]any) (map[string]any, bool, error) {
			doc, changed := status.Apply(old, res)
			return doc, changed, nil
		}); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkRefreshHistory is what serve's refresh does per host with the
// local store (list, read, parse), for records with a full history and
// without (the history field removed): the bound is 1.1×.
func BenchmarkRefreshHistory(b *testing.B) {
	const hosts = 1000
	for _, withHistory := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", withHistory), func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			writeHistory(b, s, "h0", status.HistoryLen)
			doc, _ := s.Get(ctx, "h0")
			if !withHistory {
				delete(doc, status.FieldHistory)
			}
			for i := range hosts {
				if err := s.Update(ctx, fmt.Sprint("h", i), func(map[string]any) (map[string]any, bool, error) { return doc, true, nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				keys, err := s.List(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range keys {
					d, err := s.Get(ctx, k)
					if err != nil {
						b.Fatal(err)
					}
					status.Parse(k, d)
				}
			}
		})
	}
}
