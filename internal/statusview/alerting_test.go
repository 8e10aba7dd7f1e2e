package statusview

import (
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/heartbeat"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestAlertingPathExit: a switch's state makes status unhealthy when the
// switch would tell a person (a sender silent) or cannot be read, even
// narrowed to named hosts; starting and fine do not.
func TestAlertingPathExit(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	read := now.Add(-time.Second)
	fine := []heartbeat.Sender{{Name: "am-1", Last: now.Add(-time.Minute)}, {Name: "am-2", Last: now.Add(-2 * time.Minute)}}
	tests := []struct {
		name  string
		st    heartbeat.State
		state string
		why   string // "" for healthy
	}{
		{"fine", heartbeat.State{Read: read, Judging: true, Senders: fine}, heartbeat.Fine, ""},
		{"starting", heartbeat.State{Read: read, Timeout: 10 * time.Minute, Senders: fine}, heartbeat.Starting, ""},
		{"one silent", heartbeat.State{Read: read, Judging: true, Senders: []heartbeat.Sender{fine[0], {Name: "am-2", Last: now.Add(-20 * time.Minute), Silent: true}}},
			heartbeat.Partial, "alerting path: 1 of 2 senders silent: am-2 since 2026-12-07T00:40:00+00:00 (20m0s ago)"},
		{"all silent", heartbeat.State{Read: read, Judging: true, Senders: []heartbeat.Sender{{Name: "am-1", Silent: true}}},
			heartbeat.Silent, "alerting path: all 1 sender silent: am-1 never heard since the switch's state began"},
		{"unreachable", heartbeat.State{Switch: "http://dm:10037/metrics", Read: read, Err: "connection refused"},
			heartbeat.Unreachable, "alerting path: the dead man's switch http://dm:10037/metrics is unreachable: connection refused"},
	}
	for _, tc := range tests {
		rep := Report{Hosts: []Row{{Host: "db", Status: status.Success}}}
		AddAlertingPath(&rep, []heartbeat.State{tc.st}, now)
		if got := rep.AlertingPath[0].State; got != tc.state {
			t.Errorf("%s: state %s, want %s", tc.name, got, tc.state)
		}
		why := Unhealthy(rep, true)
		if (why == "") != (tc.why == "") || !strings.HasPrefix(why, tc.why) {
			t.Errorf("%s: Unhealthy = %q, want %q", tc.name, why, tc.why)
		}
	}
}
