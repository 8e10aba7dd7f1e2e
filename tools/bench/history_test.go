package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestHistoryVersionDocs: the versions the bench writes for each host
// hold a full history, as the store reads it back, and end with the
// record as the fleet without history has it.
func TestHistoryVersionDocs(t *testing.T) {
	now := time.Now()
	for _, i := range []int{0, 1} {
		docs := historyVersionDocs(i, now)
		var lines []string
		for _, doc := range docs {
			if e, ok := status.RecordEntry(doc); ok {
				lines = append(lines, e.String())
			}
		}
		h, problems := status.History(map[string]any{status.FieldHistory: strings.Join(lines, "\n")})
		if len(h) < status.HistoryLen-1 || len(problems) > 0 {
			t.Errorf("host %d: %d entries, problems %v; want %d", i, len(h), problems, status.HistoryLen)
		}
		if cur, _ := record(i, now); !reflect.DeepEqual(docs[len(docs)-1], cur) {
			t.Errorf("host %d: last version %v, want the record %v", i, docs[len(docs)-1], cur)
		}
	}
}

// TestHistoryRatio: the ratio is of the medians, and a refresh slower with
// history than the 1.1× is named as a miss.
func TestHistoryRatio(t *testing.T) {
	ms := func(ds ...int) []time.Duration {
		var out []time.Duration
		for _, d := range ds {
			out = append(out, time.Duration(d)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		with []time.Duration
		want float64
		miss bool
	}{
		{ms(105, 900, 100), 1.05, false},
		{ms(120, 115, 119), 1.19, true},
	} {
		h := &historyResult{hosts: 10000, entries: 30, token: "root", without: ms(100, 90, 300), with: tc.with, withoutCPU: ms(10), withCPU: ms(11)}
		wall, cpu := h.ratio()
		if wall < tc.want-0.001 || wall > tc.want+0.001 || cpu < 1.099 || cpu > 1.101 {
			t.Errorf("ratio of %v over %v: %.3f, %.3f; want %.2f, 1.10", tc.with, h.without, wall, cpu, tc.want)
		}
		var b strings.Builder
		if miss := h.print(&b); (miss != "") != tc.miss || !strings.Contains(b.String(), "with/without") {
			t.Errorf("miss %q for %.2f×\n%s", miss, wall, b.String())
		}
	}
}
