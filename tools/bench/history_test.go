package main

import (
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestHistoryText: the history the bench writes for each host is a full
// one, as the store keeps it, and reads back whole.
func TestHistoryText(t *testing.T) {
	h, problems := status.History(map[string]any{status.FieldHistory: historyText(time.Now())})
	if len(h) != status.HistoryLen || len(problems) > 0 {
		t.Errorf("%d entries, problems %v; want %d", len(h), problems, status.HistoryLen)
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
