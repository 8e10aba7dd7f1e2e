package repocheck

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/status"
)

// JobTag is the restic tag that makes a snapshot a job's:
// `restic backup --tag backupwatch-job=dump` for `run --job dump`. restic
// keeps the tag with the snapshot, so the repository itself says which
// job made it (paths do not: a job's paths change with its backup set, and
// two jobs may back up the same path). A snapshot without it, or whose tag
// names no valid job, is its host's own.
const JobTag = "backupwatch-job="

// FieldJobs is a host's jobs in the record: job -> {snapshots,
// newest_time, oldest_time, restore_points_missing, snapshots_allowed},
// only for snapshots tagged JobTag.
const FieldJobs = "jobs"

// FieldJobsOverLimit counts snapshots of jobs beyond MaxJobsPerHost of a
// host: counted in the host, in no job.
const FieldJobsOverLimit = "jobs_over_limit"

// MaxJobsPerHost bounds the jobs kept per host (and so the series): the
// limit the exporter counts jobs against by default.
const MaxJobsPerHost = config.DefaultMaxJobsPerHost

// SnapshotJob is the job a snapshot's tags name, "" for its host's own.
func SnapshotJob(tags []string) string {
	for _, t := range tags {
		if j, ok := strings.CutPrefix(t, JobTag); ok && status.ValidateJob(j) == nil && j != "" {
			return j
		}
	}
	return ""
}

// JobView is what the repository holds of one job of a host.
type JobView struct {
	Snapshots  int64
	NewestTime time.Time
	OldestTime time.Time
	// With a retention policy for the job (else both nil).
	PointsMissing      *int64
	SnapshotsAllowed   *int64
	OldestBeyondPolicy *bool
}

func (j *JobView) add(t time.Time, future bool) {
	j.Snapshots++
	if future {
		return
	}
	if t.After(j.NewestTime) {
		j.NewestTime = t
	}
	if j.OldestTime.IsZero() || t.Before(j.OldestTime) {
		j.OldestTime = t
	}
}

// part is a host's own snapshots (job "") or one job's: what a retention
// policy is judged on.
type part struct{ host, job string }

// judge sets the retention of each of host h's jobs with a policy, and of the
// host: the sum over its parts (its own snapshots and each job's), a part
// without a policy allowed the snapshots it has, so that
// backup_repository_host_snapshots against its allowance stays true to each
// part's policy. Nothing is set for a host none of whose parts has one.
func judge(h string, v *HostView, jobs map[string]JobView, promises map[part]*points) {
	var missing, allowedSum int64
	judged := false
	own := v.Snapshots
	for job, jv := range jobs {
		own -= jv.Snapshots
		if pt := promises[part{h, job}]; pt != nil {
			m, a := pt.missing(), allowed(pt.policy)
			b := pt.beyond()
			jv.PointsMissing, jv.SnapshotsAllowed, jv.OldestBeyondPolicy = &m, &a, &b
			jobs[job] = jv
			missing, allowedSum, judged = missing+m, allowedSum+a, true
		} else {
			allowedSum += jv.Snapshots
		}
	}
	if pt := promises[part{h, ""}]; pt != nil {
		missing, allowedSum, judged = missing+pt.missing(), allowedSum+allowed(pt.policy), true
		b := pt.beyond()
		v.OldestBeyondPolicy = &b
	} else {
		allowedSum += own
	}
	if judged {
		v.PointsMissing, v.SnapshotsAllowed = &missing, &allowedSum
	}
}

// applyJobs writes a host's jobs into its entry e.
func applyJobs(e map[string]any, views map[string]JobView) {
	if len(views) == 0 {
		return
	}
	jobs := make(map[string]any, len(views))
	for job, jv := range views {
		je := map[string]any{FieldSnapshots: strconv.FormatInt(jv.Snapshots, 10)}
		if !jv.NewestTime.IsZero() {
			je[FieldNewestTime] = jv.NewestTime.UTC().Format(time.RFC3339Nano)
		}
		if !jv.OldestTime.IsZero() {
			je[FieldOldestTime] = jv.OldestTime.UTC().Format(time.RFC3339Nano)
		}
		if jv.PointsMissing != nil && jv.SnapshotsAllowed != nil {
			je[FieldPointsMissing] = strconv.FormatInt(*jv.PointsMissing, 10)
			je[FieldSnapshotsAllowed] = strconv.FormatInt(*jv.SnapshotsAllowed, 10)
		}
		if jv.OldestBeyondPolicy != nil {
			je[FieldOldestBeyond] = flag(*jv.OldestBeyondPolicy)
		}
		jobs[job] = je
	}
	e[FieldJobs] = jobs
}

// parseJobs reads a host's jobs from its entry, at most MaxJobsPerHost,
// saying what was wrong through problem.
func parseJobs(h string, raw any, problem func(string)) map[string]JobView {
	if raw == nil {
		return nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		problem(fmt.Sprintf("%s.%s.%s: not an object", FieldHosts, h, FieldJobs))
		return nil
	}
	names := make([]string, 0, len(m))
	for j := range m {
		names = append(names, j)
	}
	sort.Strings(names)
	out := map[string]JobView{}
	for _, j := range names {
		if len(out) == MaxJobsPerHost {
			problem(fmt.Sprintf("%s.%s.%s: more than %d jobs, the rest ignored", FieldHosts, h, FieldJobs, MaxJobsPerHost))
			break
		}
		e, ok := m[j].(map[string]any)
		if status.ValidateJob(j) != nil || j == "" || !ok {
			problem(fmt.Sprintf("%s.%s.%s: %q: not a job name or not an object", FieldHosts, h, FieldJobs, status.Truncate(j, 64)))
			continue
		}
		n, err := count(e[FieldSnapshots])
		if err != nil || n == nil {
			problem(fmt.Sprintf("%s.%s.%s.%s.%s: missing or not a count", FieldHosts, h, FieldJobs, j, FieldSnapshots))
			continue
		}
		jv := JobView{Snapshots: *n}
		for _, f := range []struct {
			name string
			to   *time.Time
		}{{FieldNewestTime, &jv.NewestTime}, {FieldOldestTime, &jv.OldestTime}} {
			if s := str(e[f.name]); s != "" {
				t, err := status.ParseTime(s)
				if err != nil {
					problem(fmt.Sprintf("%s.%s.%s.%s.%s: %v", FieldHosts, h, FieldJobs, j, f.name, err))
				}
				*f.to = t
			}
		}
		pm, err1 := count(e[FieldPointsMissing])
		sa, err2 := count(e[FieldSnapshotsAllowed])
		if err1 == nil && err2 == nil && pm != nil && sa != nil {
			jv.PointsMissing, jv.SnapshotsAllowed = pm, sa
		}
		jv.OldestBeyondPolicy = parseFlag(e[FieldOldestBeyond])
		out[j] = jv
	}
	return out
}

// flag writes a judgement as the record keeps it: "1" or "0".
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// parseFlag reads a judgement written by flag; nil when absent or not one.
func parseFlag(v any) *bool {
	var b bool
	switch str(v) {
	case "1":
		b = true
	case "0":
	default:
		return nil
	}
	return &b
}
