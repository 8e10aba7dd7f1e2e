package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/status"
)

// The series below let the anomaly alerts (deploy/prometheus/backup.yml,
// group backup-anomalies) compare a host's latest backup with its own
// history in Prometheus: a success that saved nothing worth having is
// still exit 0. The exporter keeps no history itself.
var (
	filesProcessed = desc("backup_last_snapshot_files_processed",
		"Files the host's latest backup processed, new or not: what its snapshot holds (restic total_files_processed).", "host")
	bytesProcessed = desc("backup_last_snapshot_bytes_processed",
		"Bytes the host's latest backup processed, new or not (restic total_bytes_processed).", "host")
	// A maintenance job (restic forget --prune, restic check run as
	// run --job prune) is no backup: the anomaly rules leave its series out
	// (unless on(host, backup_job)), so its durations and successes are
	// never compared with the backups'.
	lastRunMaintenance = desc("backup_last_run_maintenance",
		"1 when the latest run of the host (or job) was maintenance of the repository (restic forget, prune or check; run --maintenance), not a backup; absent otherwise.", "host")
)

// anomalyDescs are the families above.
var anomalyDescs = []*prometheus.Desc{filesProcessed, bytesProcessed, lastRunMaintenance}

func init() { allDescs = append(allDescs, anomalyDescs...) }

// collectAnomaly sends a host's processed totals, when its latest result
// recorded them; r has been read (not Unread).
func collectAnomaly(g func(*prometheus.Desc, float64, ...string), r *status.Record, host string) {
	optInt(g, filesProcessed, r.FilesProcessed, host)
	optInt(g, bytesProcessed, r.BytesProcessed, host)
	if r.Maintenance {
		g(lastRunMaintenance, 1, host)
	}
}
