package collector

import "github.com/prometheus/client_golang/prometheus"

// The metric families of the host records, the restore test and the
// exporter's own health; what each means is its help text.

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	lastSuccessAge = desc("backup_last_success_age_seconds",
		"Seconds since the host's last successful backup, at scrape time; since the epoch when none is established.", "host")
	backupStatus = desc("backup_status",
		"Outcome of the host's latest backup: 1 for the current status, 0 for the others.", "host", "status")
	lastSuccessTS = desc("backup_last_success_timestamp_seconds",
		"Time of the host's last successful backup.", "host")
	lastFailureTS = desc("backup_last_failure_timestamp_seconds",
		"Time of the host's last failed backup.", "host")
	lastAttemptTS = desc("backup_last_attempt_timestamp_seconds",
		"Time the host's latest backup run started.", "host")
	clockAhead = desc("backup_clock_ahead_seconds",
		"How far the host's record was dated ahead of the exporter's clock when first read, beyond the 5 minutes record allows (a writer's clock running fast); such a time is taken as when it was first read. 0 when within the allowance.", "host")
	clockOffset = desc("backup_clock_offset_seconds",
		"The clock of the host's last writer minus Vault's, at that write (the record's written_at against KV v2's created_time, to the second): how the hosts' clocks differ, behind as well as ahead. Absent when not known (KV v1, a record written otherwise).", "host")
	consecutiveFailures = desc("backup_consecutive_failures",
		"Number of failed backups of the host since its last success.", "host")
	lastExitCode = desc("backup_last_exit_code",
		"Exit code of the host's latest backup program.", "host")
	lastDuration = desc("backup_last_duration_seconds",
		"How long the host's latest backup took.", "host")
	bytesAdded = desc("backup_last_snapshot_bytes_added",
		"Bytes added to the repository by the host's latest snapshot (restic summary).", "host")
	snapshotFiles = desc("backup_last_snapshot_files",
		"Files in the host's latest snapshot by kind (restic summary).", "host", "kind")
	pingFailures = desc("backup_last_run_ping_failures",
		"Pings to the outside checker (run --ping.url) that failed in the host's latest run; absent when it pinged none.", "host")

	restoreTestAge = desc("backup_restore_test_age_seconds",
		"Seconds since the last restore test, at scrape time; since the epoch when none is established.")
	restoreTestTS = desc("backup_restore_test_timestamp_seconds",
		"Time of the last restore test.")
	restoreTestPassed = desc("backup_restore_test_passed",
		"1 when the last restore test passed, 0 otherwise (failed or result unknown).")
	restoreTestResult = desc("backup_restore_test_result",
		"Result of the last restore test: 1 for the current result, 0 for the others.", "result")
	restoreTestTime = desc("backup_restore_test_time_to_restore_seconds",
		"How long the last restore test took to restore.")
	restoreTestInfo = desc("backup_restore_test_info",
		"The host whose backup the last restore test restored, as a label; always 1.", "host_tested")

	storeUp = desc("backupwatch_store_up",
		"1 when the last refresh reached the record store completely, 0 otherwise; absent until the first refresh.")
	lastRefreshSuccess = desc("backupwatch_last_refresh_success_timestamp_seconds",
		"Time the last complete refresh ended.")
	refreshDuration = desc("backupwatch_refresh_duration_seconds",
		"How long the last refresh took.")
	refreshesTotal = desc("backupwatch_refreshes_total",
		"Refreshes attempted.")
	refreshFailuresTotal = desc("backupwatch_refresh_failures_total",
		"Refreshes that did not reach the record store completely.")
	hostsGauge = desc("backupwatch_hosts",
		"Hosts exported: the expected ones and those found in the store.")
	recordProblems = desc("backupwatch_record_problems",
		"Problems found in the host's record (0 for a clean record); `backupwatch status` lists them.", "host")
	storeProblems = desc("backupwatch_store_problems",
		"Problems found in the store beside the records, such as a folder under the prefix.")
)

var allDescs = []*prometheus.Desc{
	lastSuccessAge, backupStatus, lastSuccessTS, lastFailureTS, lastAttemptTS, clockAhead, clockOffset,
	consecutiveFailures, lastExitCode, lastDuration, bytesAdded, snapshotFiles, pingFailures,
	restoreTestAge, restoreTestTS, restoreTestPassed, restoreTestResult, restoreTestTime, restoreTestInfo,
	storeUp, lastRefreshSuccess, refreshDuration, refreshesTotal, refreshFailuresTotal,
	hostsGauge, recordProblems, storeProblems,
}

func init() { allDescs = append(allDescs, alertingDescs...) }
