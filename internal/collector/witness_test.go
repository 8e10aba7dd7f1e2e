package collector

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestWitnessSeries: a repository record as repo-check writes it, one
// whose listing failed (its hosts as last listed, and why), a hostile one,
// and restore tests per host.
func TestWitnessSeries(t *testing.T) {
	repos := writeStore(t, map[string]string{
		"fleet": `{"checked_at":"2026-11-25T06:00:00+00:00","status":"success","last_success":"2026-11-25T06:00:00+00:00","snapshots":"3",
			"hosts":{"db":{"snapshots":"2","newest_time":"2026-11-25T02:00:00.5Z","newest_id":"ab"},"web":{"snapshots":"0"}},
			"data_check":"failed","data_check_at":"2026-11-25T06:00:00+00:00","data_check_subset":"3/30","data_check_message":"pack 1a2b: not found\nsecond line","data_check_next":"3","data_check_of":"30"}`,
		"offsite": `{"checked_at":"2026-11-25T07:00:00+00:00","status":"failed","message":"Fatal: wrong password or no key found","last_success":"2026-11-24T06:00:00+00:00","snapshots":"1",
			"hosts":{"db":{"snapshots":"1","newest_time":"2026-11-24T02:00:00Z"}}}`,
		"hostile": `{"status":"success","hosts":{"bad host\n":{"snapshots":"1"},"db":"x"},"snapshots":"-4"}`,
	})
	tests := writeStore(t, map[string]string{
		"db":  `{"last_test":"2026-10-01T09:00:00+00:00","result":"passed","notes":"ok"}`,
		"web": `{"last_test":"2026-11-01T09:00:00+00:00","result":"failed","notes":"failed: /srv/www\nmissing"}`,
	})
	w := NewWitness(WitnessOptions{Repositories: repos, RestoreTests: tests})
	w.Refresh(context.Background())
	want := `
# HELP backup_host_restore_test_failure_info What the host's last restore test recorded (its notes, one line), while it is not passed; always 1.
# TYPE backup_host_restore_test_failure_info gauge
backup_host_restore_test_failure_info{host="web",notes="failed: /srv/www missing"} 1
# HELP backup_host_restore_test_passed 1 when the last restore test of the host's backup passed, 0 otherwise.
# TYPE backup_host_restore_test_passed gauge
backup_host_restore_test_passed{host="db"} 1
backup_host_restore_test_passed{host="web"} 0
# HELP backup_repository_data_check_failure_info The subset and what restic said, while the last data check failed; always 1.
# TYPE backup_repository_data_check_failure_info gauge
backup_repository_data_check_failure_info{message="pack 1a2b: not found second line",repository="fleet",subset="3/30"} 1
# HELP backup_repository_host_newest_snapshot_timestamp_seconds Time of the host's newest snapshot in the repository at its last listing.
# TYPE backup_repository_host_newest_snapshot_timestamp_seconds gauge
backup_repository_host_newest_snapshot_timestamp_seconds{host="db",repository="fleet"} 1.7955720005e+09
backup_repository_host_newest_snapshot_timestamp_seconds{host="db",repository="offsite"} 1.7954856e+09
# HELP backup_repository_host_snapshots Snapshots of the host in the repository at its last listing; 0 for a host listed before, or expected (repo-check --host), with none.
# TYPE backup_repository_host_snapshots gauge
backup_repository_host_snapshots{host="db",repository="fleet"} 2
backup_repository_host_snapshots{host="db",repository="offsite"} 1
backup_repository_host_snapshots{host="web",repository="fleet"} 0
# HELP backup_repository_record_problems Problems found in the repository's record.
# TYPE backup_repository_record_problems gauge
backup_repository_record_problems{repository="fleet"} 0
backup_repository_record_problems{repository="hostile"} 3
backup_repository_record_problems{repository="offsite"} 0
# HELP backup_repository_up 1 when the repository's last check could list its snapshots, 0 when it failed (backup_repository_check_failure_info says why).
# TYPE backup_repository_up gauge
backup_repository_up{repository="fleet"} 1
backup_repository_up{repository="hostile"} 1
backup_repository_up{repository="offsite"} 0
# HELP backup_repository_check_failure_info Why the repository's last check could not list it (one line); only while it failed; always 1.
# TYPE backup_repository_check_failure_info gauge
backup_repository_check_failure_info{message="Fatal: wrong password or no key found",repository="offsite"} 1
# HELP backupwatch_checks_store_up 1 when the last refresh read every check record (repositories, restore tests per host), 0 otherwise.
# TYPE backupwatch_checks_store_up gauge
backupwatch_checks_store_up 1
`
	if err := testutil.CollectAndCompare(w, strings.NewReader(want),
		"backup_host_restore_test_failure_info", "backup_host_restore_test_passed", "backup_repository_data_check_failure_info",
		"backup_repository_host_newest_snapshot_timestamp_seconds", "backup_repository_host_snapshots", "backup_repository_record_problems",
		"backup_repository_up", "backup_repository_check_failure_info", "backupwatch_checks_store_up"); err != nil {
		t.Error(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(w)
	if _, err := reg.Gather(); err != nil {
		t.Errorf("gather: %v", err)
	}
	if probs, err := testutil.CollectAndLint(w); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", probs, err)
	}
}

// TestWitnessShardedRecord: a repository whose hosts are in shard records
// (repocheck.Save past repocheck.ShardBytes) is exported as one, the shards
// never as repositories; a missing shard is a problem of the record; a
// snapshot from the future is counted, beside the host's real newest;
// locks by kind, the oldest with its host (a hostile one replaced) and pid.
func TestWitnessShardedRecord(t *testing.T) {
	repos := writeStore(t, map[string]string{
		"fleet": `{"checked_at":"2026-11-25T06:00:00+00:00","status":"success","last_success":"2026-11-25T06:00:00+00:00","snapshots":"4","future":"1",
			"host_shards":"2","hosts":{},"undeclared_hosts":"4","size_bytes":"1073741824","free_bytes":"5368709120","locks_exclusive":"1","locks_shared":"0","locks_unread":"0",
			"oldest_locks":{"exclusive":{"time":"2026-11-25T01:00:00+00:00","host":"db","pid":"4242"}}}`,
		"fleet~hosts-0": `{"repository":"fleet","hosts":{"db":{"snapshots":"3","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-01T02:00:00Z","future":"1"}}}`,
		"fleet~hosts-1": `{"repository":"fleet","hosts":{"web":{"snapshots":"1","restore_points_missing":"2","snapshots_allowed":"14","newest_time":"2026-11-24T02:00:00Z","oldest_time":"2026-11-24T02:00:00Z"}}}`,
		"broken": `{"status":"success","snapshots":"1","host_shards":"2","hosts":{},"locks_exclusive":"0","locks_shared":"2",
			"oldest_locks":{"shared":{"time":"2026-11-25T01:00:00+00:00","host":"<script>\nx","pid":"-1"}}}`,
		"broken~hosts-0": `{"repository":"broken","hosts":{"db":{"snapshots":"1"}}}`,
	})
	w := NewWitness(WitnessOptions{Repositories: repos})
	w.Refresh(context.Background())
	want := `
# HELP backup_repository_host_restore_points_missing Restore points the host's retention policy (config retention:) promises that the repository lacks: complete hours, days, weeks, months or years without a snapshot; only for hosts with a policy.
# TYPE backup_repository_host_restore_points_missing gauge
backup_repository_host_restore_points_missing{host="web",repository="fleet"} 2
# HELP backup_repository_host_snapshots_allowed Twice the snapshots the host's retention policy keeps: more means forget is not running; only for hosts with a policy.
# TYPE backup_repository_host_snapshots_allowed gauge
backup_repository_host_snapshots_allowed{host="web",repository="fleet"} 14
# HELP backup_repository_undeclared_hosts Host names in the repository outside the fleet the config file declares (repo-check --config.file): never restore-tested; only when a fleet is declared.
# TYPE backup_repository_undeclared_hosts gauge
backup_repository_undeclared_hosts{repository="fleet"} 4
# HELP backup_repository_size_bytes Bytes the repository takes at its last size measure: on a local path or a mount the sum of its files' sizes (what it takes of the disk, data forget left for prune included), elsewhere restic stats --mode raw-data (its snapshots' data as stored, deduplicated and compressed).
# TYPE backup_repository_size_bytes gauge
backup_repository_size_bytes{repository="fleet"} 1.073741824e+09
# HELP backup_repository_free_bytes Bytes free to the repository's writer on the file system under a local repository (a path or a mount) at its last check.
# TYPE backup_repository_free_bytes gauge
backup_repository_free_bytes{repository="fleet"} 5.36870912e+09
# HELP backup_repository_locks Locks in the repository at its last check, by kind (restic list locks; repo-check never removes one).
# TYPE backup_repository_locks gauge
backup_repository_locks{exclusive="false",repository="broken"} 2
backup_repository_locks{exclusive="false",repository="fleet"} 0
backup_repository_locks{exclusive="true",repository="broken"} 0
backup_repository_locks{exclusive="true",repository="fleet"} 1
# HELP backup_repository_oldest_lock_timestamp_seconds Time of the oldest lock of the kind in the repository (created or last refreshed: restic refreshes a live lock every 5 minutes), with the host and pid holding it.
# TYPE backup_repository_oldest_lock_timestamp_seconds gauge
backup_repository_oldest_lock_timestamp_seconds{exclusive="false",host="invalid-hostname",pid="0",repository="broken"} 1.7955684e+09
backup_repository_oldest_lock_timestamp_seconds{exclusive="true",host="db",pid="4242",repository="fleet"} 1.7955684e+09
# HELP backup_repository_future_snapshots Snapshots dated more than 5 minutes after the repository's last listing: taken as no host's newest (a clock ahead, or restic backup --time).
# TYPE backup_repository_future_snapshots gauge
backup_repository_future_snapshots{repository="broken"} 0
backup_repository_future_snapshots{repository="fleet"} 1
# HELP backup_repository_host_future_snapshots Snapshots of the host dated more than 5 minutes after the repository's last listing; only for hosts that have some.
# TYPE backup_repository_host_future_snapshots gauge
backup_repository_host_future_snapshots{host="db",repository="fleet"} 1
# HELP backup_repository_host_oldest_snapshot_timestamp_seconds Time of the host's oldest snapshot in the repository at its last listing: its oldest restore point.
# TYPE backup_repository_host_oldest_snapshot_timestamp_seconds gauge
backup_repository_host_oldest_snapshot_timestamp_seconds{host="db",repository="fleet"} 1.7934984e+09
backup_repository_host_oldest_snapshot_timestamp_seconds{host="web",repository="fleet"} 1.7954856e+09
# HELP backup_repository_host_snapshots Snapshots of the host in the repository at its last listing; 0 for a host listed before, or expected (repo-check --host), with none.
# TYPE backup_repository_host_snapshots gauge
backup_repository_host_snapshots{host="db",repository="broken"} 1
backup_repository_host_snapshots{host="db",repository="fleet"} 3
backup_repository_host_snapshots{host="web",repository="fleet"} 1
# HELP backup_repository_record_problems Problems found in the repository's record.
# TYPE backup_repository_record_problems gauge
backup_repository_record_problems{repository="broken"} 1
backup_repository_record_problems{repository="fleet"} 0
`
	if err := testutil.CollectAndCompare(w, strings.NewReader(want), "backup_repository_host_restore_points_missing", "backup_repository_host_snapshots_allowed", "backup_repository_undeclared_hosts", "backup_repository_size_bytes", "backup_repository_free_bytes", "backup_repository_locks", "backup_repository_oldest_lock_timestamp_seconds", "backup_repository_future_snapshots", "backup_repository_host_future_snapshots",
		"backup_repository_host_oldest_snapshot_timestamp_seconds", "backup_repository_host_snapshots", "backup_repository_record_problems"); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.CollectAndLint(w); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", probs, err)
	}
}

// TestWitnessJobSeries: a host's jobs in a repository's record (snapshots
// tagged backupwatch-job=<job>) are exported per host and job, their
// retention only with a policy; a job entry that is not a job name or not
// an object is a problem of the record, never a series.
func TestWitnessJobSeries(t *testing.T) {
	repos := writeStore(t, map[string]string{
		"fleet": `{"checked_at":"2026-11-25T06:00:00+00:00","status":"success","last_success":"2026-11-25T06:00:00+00:00","snapshots":"12",
			"hosts":{"db":{"snapshots":"12","restore_points_missing":"1","snapshots_allowed":"28","oldest_beyond_policy":"0","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-18T02:00:00Z",
			"jobs":{"dump":{"snapshots":"3","newest_time":"2026-11-24T03:00:00Z","oldest_time":"2026-11-21T03:00:00Z","restore_points_missing":"1","snapshots_allowed":"8","oldest_beyond_policy":"1"},
			"wal":{"snapshots":"2","newest_time":"2026-11-25T05:00:00Z","oldest_time":"2026-11-25T04:00:00Z"},
			"bad job\n<script>":{"snapshots":"1"},"logs":"not an object"}}}}`,
	})
	w := NewWitness(WitnessOptions{Repositories: repos})
	w.Refresh(context.Background())
	want := `
# HELP backup_repository_job_snapshots Snapshots of the host's job (tagged backupwatch-job=<job>) in the repository at its last listing; also counted in backup_repository_host_snapshots.
# TYPE backup_repository_job_snapshots gauge
backup_repository_job_snapshots{backup_job="dump",host="db",repository="fleet"} 3
backup_repository_job_snapshots{backup_job="wal",host="db",repository="fleet"} 2
# HELP backup_repository_job_newest_snapshot_timestamp_seconds Time of the newest snapshot of the host's job in the repository at its last listing: its newest restore point.
# TYPE backup_repository_job_newest_snapshot_timestamp_seconds gauge
backup_repository_job_newest_snapshot_timestamp_seconds{backup_job="dump",host="db",repository="fleet"} 1.7954892e+09
backup_repository_job_newest_snapshot_timestamp_seconds{backup_job="wal",host="db",repository="fleet"} 1.7955828e+09
# HELP backup_repository_job_oldest_snapshot_timestamp_seconds Time of the oldest snapshot of the host's job in the repository at its last listing: its oldest restore point.
# TYPE backup_repository_job_oldest_snapshot_timestamp_seconds gauge
backup_repository_job_oldest_snapshot_timestamp_seconds{backup_job="dump",host="db",repository="fleet"} 1.79523e+09
backup_repository_job_oldest_snapshot_timestamp_seconds{backup_job="wal",host="db",repository="fleet"} 1.7955792e+09
# HELP backup_repository_job_restore_points_missing Restore points the job's retention policy (config retention: with job:) promises that the repository lacks; only for jobs with a policy. The host's series sums its jobs'.
# TYPE backup_repository_job_restore_points_missing gauge
backup_repository_job_restore_points_missing{backup_job="dump",host="db",repository="fleet"} 1
# HELP backup_repository_job_snapshots_allowed Twice the snapshots the job's retention policy keeps: more means forget is not running for it; only for jobs with a policy.
# TYPE backup_repository_job_snapshots_allowed gauge
backup_repository_job_snapshots_allowed{backup_job="dump",host="db",repository="fleet"} 8
# HELP backup_repository_job_oldest_snapshot_beyond_policy 1 when the oldest snapshot of the host's job is one restic forget would remove with twice the job's retention policy's counts; 0 when it is kept; only for jobs with a policy.
# TYPE backup_repository_job_oldest_snapshot_beyond_policy gauge
backup_repository_job_oldest_snapshot_beyond_policy{backup_job="dump",host="db",repository="fleet"} 1
# HELP backup_repository_host_oldest_snapshot_beyond_policy 1 when the oldest of the host's own snapshots (not its jobs') is one restic forget would remove with twice its retention policy's counts: forget is not running, or with another policy; 0 when it is kept; only for hosts with a policy.
# TYPE backup_repository_host_oldest_snapshot_beyond_policy gauge
backup_repository_host_oldest_snapshot_beyond_policy{host="db",repository="fleet"} 0
# HELP backup_repository_record_problems Problems found in the repository's record.
# TYPE backup_repository_record_problems gauge
backup_repository_record_problems{repository="fleet"} 2
`
	if err := testutil.CollectAndCompare(w, strings.NewReader(want), "backup_repository_job_snapshots", "backup_repository_job_newest_snapshot_timestamp_seconds",
		"backup_repository_job_oldest_snapshot_timestamp_seconds", "backup_repository_job_restore_points_missing", "backup_repository_job_snapshots_allowed",
		"backup_repository_job_oldest_snapshot_beyond_policy", "backup_repository_host_oldest_snapshot_beyond_policy", "backup_repository_record_problems"); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.CollectAndLint(w); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", probs, err)
	}
}
