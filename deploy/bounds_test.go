package deploy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestRulesShareTheCodesBounds: the thresholds the rules and the code
// share are the same numbers, so `backupwatch status` and the alerts agree
// on what is a problem.
func TestRulesShareTheCodesBounds(t *testing.T) {
	rules := readRules(t, "prometheus/backup.yml")
	if want := fmt.Sprintf("> %d", int64(status.RestoreTestInterval.Seconds())); len(rules["RestoreTestOverdue"]) != 1 || !strings.HasSuffix(rules["RestoreTestOverdue"][0].Expr, want) {
		t.Errorf("RestoreTestOverdue: %+v, want an expression ending %q (status.RestoreTestInterval)", rules["RestoreTestOverdue"], want)
	}
	if want := fmt.Sprintf("more than the %d minutes allowed", int(status.ClockSkew.Minutes())); len(rules["BackupClockAhead"]) != 1 || !strings.Contains(strings.Join(strings.Fields(rules["BackupClockAhead"][0].Annotations["description"]), " "), want) {
		t.Errorf("BackupClockAhead: its description does not say %q (status.ClockSkew)", want)
	}
}
