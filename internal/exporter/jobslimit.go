package exporter

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/collector"
)

// jobsLimitCollector counts, at each scrape, the jobs of hosts beyond the
// limit of jobs per host (config file max_jobs_per_host): record and run
// refuse such jobs, so those found were written otherwise (an older
// backupwatch, another tool, a raised --jobs.max-per-host). They are
// still exported, never hidden; the count says where to look.
type jobsLimitCollector struct {
	c     *collector.Collector
	limit int
}

var _ prometheus.Collector = (*jobsLimitCollector)(nil)

var (
	jobsLimitDesc = prometheus.NewDesc("backupwatch_jobs_limit",
		"The limit of jobs per host (config file max_jobs_per_host; 0 for none).", nil, nil)
	jobsOverLimitDesc = prometheus.NewDesc("backupwatch_jobs_over_limit",
		"Jobs of the host beyond the limit of jobs per host, only for hosts beyond it.", []string{"host"}, nil)
)

func (j *jobsLimitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsLimitDesc
	ch <- jobsOverLimitDesc
}

func (j *jobsLimitCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(jobsLimitDesc, prometheus.GaugeValue, float64(j.limit))
	snap := j.c.State().Snapshot
	if snap == nil || j.limit <= 0 {
		return
	}
	// Jobs are sorted by host: count each host's run.
	jobs := snap.Jobs
	for i := 0; i < jobs.Len(); {
		host := jobs.At(i).Host
		k := i
		for k < jobs.Len() && jobs.At(k).Host == host {
			k++
		}
		if n := k - i; n > j.limit {
			ch <- prometheus.MustNewConstMetric(jobsOverLimitDesc, prometheus.GaugeValue, float64(n-j.limit), host)
		}
		i = k
	}
}
