package collector

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
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

// TestMaintenanceSeries: a job whose latest run was maintenance (kind:
// maintenance: restic forget, prune, check) says so with
// backup_last_run_maintenance, for the anomaly rules to leave it out; a
// backup, or an unknown kind, has none.
func TestMaintenanceSeries(t *testing.T) {
	dir := t.TempDir()
	docs := map[string]string{
		"db":                      `{"status":"success","last_success":"2026-11-25T02:00:00+00:00","duration_seconds":"600","total_files_processed":"40015"}`,
		status.Key("db", "prune"): `{"status":"success","last_success":"2026-11-25T04:00:00+00:00","duration_seconds":"3600","kind":"maintenance"}`,
		status.Key("db", "other"): `{"status":"success","last_success":"2026-11-25T04:00:00+00:00","kind":"<b>odd"}`,
	}
	if err := os.MkdirAll(filepath.Join(dir, status.JobsFolder), 0o750); err != nil {
		t.Fatal(err)
	}
	for k, doc := range docs {
		if err := os.WriteFile(filepath.Join(dir, k+".json"), []byte(doc), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	src, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestCollector(src)
	c.Refresh(context.Background())
	want := `# HELP backup_last_run_maintenance 1 when the latest run of the host (or job) was maintenance of the repository (restic forget, prune or check; run --maintenance), not a backup; absent otherwise.
# TYPE backup_last_run_maintenance gauge
backup_last_run_maintenance{backup_job="prune",host="db"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "backup_last_run_maintenance"); err != nil {
		t.Error(err)
	}
}
