package collector

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Jobs. A job's series are its host's families with one more label,
// backup_job, after host (Prometheus' own `job` label is the scrape
// target's; a series label of that name would be renamed exported_job):
// backup_status{host="db",backup_job="files",status="failed"}. A host's own
// record keeps the runbook's label set exactly, so its series, rules and
// dashboards do not change, and an alert on backup_status{status="failed"}
// covers every job. Each family is one family in /metrics (a job's twin
// descriptor maps back to its host descriptor, see family); the twins are
// not described, so the collector is unchecked for them.

// BackupJobLabel is the label naming a job.
const BackupJobLabel = "backup_job"

// The schedule series, for hosts and jobs alike.
var (
	deadlineTS = desc("backup_deadline_timestamp_seconds",
		"When the next successful backup is due: the last success plus the schedule and its grace (the runbook's 24 hours when none is set); 0 when no success is established.", "host")
	scheduleInfo = desc("backup_schedule_info",
		"The schedule the backup is judged by, when one is set (recorded with its results, or the exporter's config file); absent for the runbook's 24 hours; always 1.", "host", "schedule", "source")
	runDeadlineTS = desc("backup_run_deadline_timestamp_seconds",
		"While a run is in progress (started after the latest result): when it counts as running too long (its start plus the grace, or the schedule's interval without one); 0 when no run is in progress.", "host")
)

var scheduleDescs = []*prometheus.Desc{deadlineTS, scheduleInfo, runDeadlineTS}

func init() { allDescs = append(allDescs, scheduleDescs...) }

var (
	twinsOnce sync.Once
	twins     map[*prometheus.Desc]*prometheus.Desc // host family -> job twin
	bases     map[*prometheus.Desc]*prometheus.Desc // job twin -> host family
)

// descRE reads what client_golang's Desc.String prints, the only way to
// learn a descriptor's help and labels.
var descRE = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*"), unit: "(?:[^"\\]|\\.)*", constLabels: \{[^}]*\}, variableLabels: \{([^}]*)\}\}$`)

func buildTwins() {
	twins, bases = map[*prometheus.Desc]*prometheus.Desc{}, map[*prometheus.Desc]*prometheus.Desc{}
	for _, d := range allDescs {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			continue // not a record family (or a client library that prints otherwise: TestJobFamilies fails)
		}
		name, err1 := strconv.Unquote(m[1])
		help, err2 := strconv.Unquote(m[2])
		if err1 != nil || err2 != nil {
			continue
		}
		var labels []string
		if m[3] != "" {
			labels = strings.Split(m[3], ",")
		}
		switch i := slices.Index(labels, "host"); {
		case i >= 0:
			labels = slices.Insert(labels, i+1, BackupJobLabel)
		case strings.HasPrefix(name, "backup_restore_test_"):
			labels = slices.Insert(labels, 0, BackupJobLabel)
		default:
			continue // the exporter's own families have no jobs
		}
		t := prometheus.NewDesc(name, help, labels, nil)
		twins[d], bases[t] = t, d
	}
}

// family is the descriptor of d's family: its host descriptor for a job's
// twin, d itself otherwise.
func family(d *prometheus.Desc) *prometheus.Desc {
	twinsOnce.Do(buildTwins)
	if b, ok := bases[d]; ok {
		return b
	}
	if isInfoDesc(d) {
		return hostInfo
	}
	return d
}

func twin(d *prometheus.Desc) *prometheus.Desc {
	twinsOnce.Do(buildTwins)
	if t, ok := twins[d]; ok {
		return t
	}
	return d // not a record family: would fail its label count, never sent
}

type gauge = func(*prometheus.Desc, float64, ...string)

// jobGauge sends a job's series through g: the host family's twin, the
// job label after the host label.
func jobGauge(g gauge, job string) gauge {
	return func(d *prometheus.Desc, v float64, labels ...string) {
		g(twin(d), v, slices.Insert(slices.Clone(labels), 1, job)...)
	}
}

// restoreJobGauge sends a restore test job's series: the job label first.
func restoreJobGauge(g gauge, job string) gauge {
	return func(d *prometheus.Desc, v float64, labels ...string) {
		g(twin(d), v, append([]string{job}, labels...)...)
	}
}

func collectSchedule(g gauge, r *status.Record, host string, now time.Time) {
	var deadline float64
	if d := r.Deadline(now); !d.IsZero() {
		deadline = float64(d.Unix())
	}
	g(deadlineTS, deadline, host)
	if r.ScheduleFrom != "" {
		g(scheduleInfo, 1, host, r.Schedule.String(), r.ScheduleFrom)
	}
	var runDeadline float64 // 0, not absent, when none: a run's end resolves its alert at once
	if d := r.RunDeadline(); !d.IsZero() {
		runDeadline = float64(d.Unix())
	}
	g(runDeadlineTS, runDeadline, host)
}

// eachJobAge sends the jobs' ages (see eachAge).
func eachJobAge(snap *fleet.Snapshot, f func(d *prometheus.Desc, t time.Time, labels ...string)) {
	for _, r := range snap.Jobs.All() {
		if !r.Unread {
			f(twin(lastSuccessAge), r.LastSuccess, hostLabel(r.Host), labelValue(r.Job))
		}
	}
	for i := range snap.RestoreTestJobs {
		rt := &snap.RestoreTestJobs[i]
		f(twin(restoreTestAge), rt.LastTest, labelValue(rt.Job))
	}
}
