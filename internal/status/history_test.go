package status

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func histResult(outcome string, at time.Time, msg string) Result {
	code := int64(0)
	if outcome == Failed {
		code = 1
	}
	d := 12.5
	return Result{Host: "db", Outcome: outcome, At: at, ExitCode: &code, Duration: &d, Message: msg,
		Extra: map[string]string{FieldFilesProcessed: "10", FieldBytesProcessed: "2048"}}
}

func historyOf(t *testing.T, doc map[string]any) []Entry {
	t.Helper()
	h, problems := History(doc)
	if len(problems) > 0 {
		t.Errorf("History problems: %v", problems)
	}
	return h
}

// TestHistoryEveryResult: every outcome recorded goes into the history,
// late ones by their time, a redelivery once, an attempt not at all.
func TestHistoryEveryResult(t *testing.T) {
	base := time.Now().Add(-48 * time.Hour).Truncate(time.Second).UTC()
	var doc map[string]any
	apply := func(res Result) {
		doc, _ = Apply(doc, res)
	}
	apply(Result{Host: "db", At: base})                                  // an attempt
	apply(histResult(Success, base.Add(time.Hour), ""))                  // current
	apply(histResult(Failed, base.Add(3*time.Hour), "exit status 1\nx")) // current
	apply(histResult(Success, base.Add(2*time.Hour), ""))                // late: older
	apply(histResult(Failed, base.Add(3*time.Hour), "exit status 1\nx")) // redelivered
	apply(histResult(Success, base.Add(2*time.Hour), ""))                // late, redelivered

	h := historyOf(t, doc)
	var got []string
	for _, e := range h {
		got = append(got, FormatTime(e.At)+" "+e.Outcome+" "+e.Reason)
	}
	want := []string{
		FormatTime(base.Add(time.Hour)) + " success ",
		FormatTime(base.Add(2*time.Hour)) + " success ",
		FormatTime(base.Add(3*time.Hour)) + " failed exit status 1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("history:\n got %q\nwant %q", got, want)
	}
	if e := h[2]; e.ExitCode == nil || *e.ExitCode != 1 || e.Duration == nil || *e.Duration != 12.5 ||
		e.FilesProcessed == nil || *e.FilesProcessed != 10 || e.BytesProcessed == nil || *e.BytesProcessed != 2048 {
		t.Errorf("entry fields: %+v", e)
	}
	if r := Parse("db", doc); r.Status != Failed {
		t.Errorf("status %q, want failed", r.Status)
	}
	// A redelivery writes nothing.
	if _, changed := Apply(doc, histResult(Failed, base.Add(3*time.Hour), "exit status 1\nx")); changed {
		t.Error("a redelivered result changed the record")
	}
}

// TestHistoryBounded: the history keeps the last HistoryLen results, and
// its field stays small whatever the messages.
func TestHistoryBounded(t *testing.T) {
	base := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Second)
	var doc map[string]any
	for i := range 100 {
		doc, _ = Apply(doc, histResult(Failed, base.Add(time.Duration(i)*time.Hour), strings.Repeat("é\x1b[31m<b>", 5000)))
	}
	h := historyOf(t, doc)
	if len(h) != HistoryLen {
		t.Fatalf("%d entries, want %d", len(h), HistoryLen)
	}
	if !h[0].At.Equal(base.Add(70 * time.Hour)) {
		t.Errorf("first entry at %s, want the 71st result's", h[0].At)
	}
	if n := len(doc[FieldHistory].(string)); n > HistoryLen*(maxReason+120) {
		t.Errorf("history field is %d bytes", n)
	}
}

// TestHistoryOldAndHostile: a record without history, or with a history
// truncated, hostile or out of order, reads fine and takes new results.
func TestHistoryOldAndHostile(t *testing.T) {
	now := time.Now().Truncate(time.Second).UTC()
	old := FormatTime(now.Add(-2 * time.Hour))
	for _, tc := range []struct {
		name    string
		value   any
		entries int // before the new result
	}{
		{"absent", nil, 0},
		{"a number", 42, 0},
		{"an array", []any{"x"}, 0},
		{"empty", "", 0},
		{"truncated", old + " success 0 1.000 5 6 fine\n" + old[:10], 1},
		{"garbage", "\x00\x1b]0;title\x07 <script>\n\n\xff\xfe", 0},
		{"bad numbers", old + " failed x 1 2 3\n" + old + " failed 1 NaN 2 3\n" + old + " maybe 1 1 1 1", 0},
		{"out of order", FormatTime(now.Add(-time.Hour)) + " failed 1 - - - b\n" + old + " success 0 - - - a", 2},
		{"far future", FormatTime(now.Add(100*24*time.Hour)) + " success 0 - - -", 0},
		{"huge", strings.Repeat(old+" success 0 1 2 3 "+strings.Repeat("x", 500)+"\n", 1000), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := map[string]any{FieldStatus: Success, FieldLastSuccess: old}
			if tc.value != nil {
				doc[FieldHistory] = tc.value
			}
			if r := Parse("db", doc); r.Status != Success || len(r.Problems) > 0 {
				t.Errorf("record: status %q, problems %v", r.Status, r.Problems)
			}
			before, _ := History(doc)
			if tc.name != "far future" && len(before) != tc.entries {
				t.Errorf("%d entries before, want %d", len(before), tc.entries)
			}
			got, _ := Apply(doc, histResult(Failed, now.Add(-time.Minute), "boom"))
			if r := Parse("db", got); r.Status != Failed {
				t.Errorf("status after a failure %q", r.Status)
			}
			h, problems := History(got)
			if len(problems) > 0 {
				t.Errorf("problems after a write: %v", problems)
			}
			if len(h) != tc.entries+1 || h[len(h)-1].Outcome != Failed {
				t.Errorf("history after a failure: %+v", h)
			}
			if !slices.IsSortedFunc(h, func(a, b Entry) int { return a.At.Compare(b.At) }) {
				t.Error("history not in time order")
			}
		})
	}
}

// TestHistoryProperty: whatever the order and repetition of deliveries,
// the history is the last HistoryLen distinct results by time, and the
// record's own fields are those of the same merge without the history.
func TestHistoryProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := time.Now().Add(-90 * 24 * time.Hour).Truncate(time.Second)
		n := rapid.IntRange(1, 60).Draw(t, "results")
		var results []Result
		for i := range n {
			outcome := rapid.SampledFrom([]string{Success, Failed, ""}).Draw(t, fmt.Sprint("outcome", i))
			results = append(results, histResult(outcome, base.Add(time.Duration(i)*time.Hour), "r"))
		}
		order := rapid.SliceOfN(rapid.IntRange(0, n-1), 1, 3*n).Draw(t, "deliveries")
		var doc, plain map[string]any
		delivered := map[int]bool{}
		for _, i := range order {
			doc, _ = Apply(doc, results[i])
			plain, _, _ = merge(plain, results[i])
			delivered[i] = true
		}
		var want []string
		for i, r := range results {
			if delivered[i] && r.Outcome != "" {
				want = append(want, FormatTime(r.At)+" "+r.Outcome)
			}
		}
		if len(want) > HistoryLen {
			want = want[len(want)-HistoryLen:]
		}
		h, problems := History(doc)
		var got []string
		for _, e := range h {
			got = append(got, FormatTime(e.At)+" "+e.Outcome)
		}
		if len(problems) > 0 || !slices.Equal(got, want) {
			t.Fatalf("history\n got %q\nwant %q (problems %v)", got, want, problems)
		}
		delete(doc, FieldHistory)
		if fmt.Sprint(doc) != fmt.Sprint(plain) {
			t.Fatalf("record with history %v\nwithout %v", doc, plain)
		}
	})
}

// TestRecordEntry: a record written by a current result describes that
// result's entry exactly as the history holds it (a store keeping the
// record's versions has the history in them); a late result is not the
// record's, and a record backupwatch did not create describes none.
func TestRecordEntry(t *testing.T) {
	base := time.Now().Add(-48 * time.Hour).Truncate(time.Second).UTC()
	var doc map[string]any
	for i, res := range []Result{
		histResult(Success, base, ""),
		histResult(Failed, base.Add(time.Hour), "exit status 1\nFatal: <b>no</b>"),
		{Host: "db", Outcome: Success, At: base.Add(2 * time.Hour)},
		histResult(Failed, base.Add(3*time.Hour), strings.Repeat("x", 2000)),
	} {
		doc, _ = Apply(doc, res)
		h := historyOf(t, doc)
		e, ok := RecordEntry(doc)
		if !ok || e.String() != h[len(h)-1].String() {
			t.Errorf("result %d: RecordEntry %q, %v; want the history's last entry %q", i, e, ok, h[len(h)-1])
		}
	}
	late, _ := Apply(doc, histResult(Success, base.Add(90*time.Minute), "late"))
	if e, ok := RecordEntry(late); !ok || e.At.Equal(base.Add(90*time.Minute)) {
		t.Errorf("after a late result: %q, %v; want the status's entry still", e, ok)
	}
	if e, ok := RecordEntry(map[string]any{FieldStatus: "success", FieldLastSuccess: FormatTime(base)}); ok {
		t.Errorf("a record written by hand: %q, want none", e)
	}
}
