package status

import (
	"slices"
	"testing"
	"time"
)

// FuzzHistory: whatever a history field holds, it reads as at most
// HistoryLen entries in time order, and a result merged into it leaves a
// history that reads without problems and holds that result (unless it
// is older than every one of a full history's).
func FuzzHistory(f *testing.F) {
	f.Add("2026-12-01T03:00:00Z success 0 12.5 10 2048 fine\n2026-12-02T03:00:00Z failed 1 - - - exit status 1")
	f.Add("2026-12-02T03:00:00Z failed 1 - - - b\n2026-12-01T03:00:00Z success 0 - - - a\n2026-12")
	f.Add("\x00\xff\x1b[31m <script>\n1764558000 success - - - -")
	f.Fuzz(func(t *testing.T, s string) {
		doc := map[string]any{FieldStatus: Success, FieldHistory: s}
		h, _ := History(doc)
		if len(h) > HistoryLen || !slices.IsSortedFunc(h, func(a, b Entry) int { return a.At.Compare(b.At) }) {
			t.Fatalf("History: %d entries, sorted %v", len(h), slices.IsSortedFunc(h, func(a, b Entry) int { return a.At.Compare(b.At) }))
		}
		at := time.Now().Add(-time.Hour).Truncate(time.Second)
		got, _ := Apply(doc, Result{Host: "db", Outcome: Failed, At: at, Message: s})
		h, problems := History(got)
		kept := slices.ContainsFunc(h, func(e Entry) bool { return e.At.Equal(at) && e.Outcome == Failed })
		// Only a result older than a full history's is not kept.
		if len(problems) > 0 || len(h) == 0 || !kept && (len(h) < HistoryLen || h[0].At.Before(at)) {
			t.Fatalf("after a merge: %d entries, problems %v", len(h), problems)
		}
	})
}
