package collector

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestAnomalySeries: the processed totals restic's summary gave, per host;
// none for a record without them (the runbook's, or a failure), none for a
// negative or broken value.
func TestAnomalySeries(t *testing.T) {
	records := map[string]string{
		"db":     `{"status":"success","last_success":"2026-11-25T02:00:00+00:00","total_files_processed":"40015","total_bytes_processed":"1073741824"}`,
		"empty":  `{"status":"success","last_success":"2026-11-25T02:00:00+00:00","total_files_processed":"0","total_bytes_processed":"0"}`,
		"old":    `{"status":"success","last_success":"2026-11-25T02:00:00+00:00"}`,
		"broken": `{"status":"success","last_success":"2026-11-25T02:00:00+00:00","total_files_processed":"many","total_bytes_processed":"1.5"}`,
	}
	c := newTestCollector(writeStore(t, records))
	c.Refresh(context.Background())
	want := `# HELP backup_last_snapshot_bytes_processed Bytes the host's latest backup processed, new or not (restic total_bytes_processed).
# TYPE backup_last_snapshot_bytes_processed gauge
backup_last_snapshot_bytes_processed{host="db"} 1.073741824e+09
backup_last_snapshot_bytes_processed{host="empty"} 0
# HELP backup_last_snapshot_files_processed Files the host's latest backup processed, new or not: what its snapshot holds (restic total_files_processed).
# TYPE backup_last_snapshot_files_processed gauge
backup_last_snapshot_files_processed{host="db"} 40015
backup_last_snapshot_files_processed{host="empty"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "backup_last_snapshot_files_processed", "backup_last_snapshot_bytes_processed"); err != nil {
		t.Error(err)
	}
}
