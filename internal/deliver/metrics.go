package deliver

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/spool"
)

var (
	spoolReadableDesc = prometheus.NewDesc("backupwatch_spool_readable",
		"1 if this host's spool could be read at the scrape, 0 if not (then the other spool series are absent).", nil, nil)
	spoolResultsDesc = prometheus.NewDesc("backupwatch_spool_results",
		"Results waiting in this host's spool because the store could not take them yet.", nil, nil)
	spoolOldestDesc = prometheus.NewDesc("backupwatch_spool_oldest_result_timestamp_seconds",
		"When the oldest result waiting in this host's spool was spooled; absent when none waits.", nil, nil)
	spoolRejectedDesc = prometheus.NewDesc("backupwatch_spool_rejected_results",
		"Spooled results the store refused for good, set aside in rejected/ until an operator discards them (backupwatch flush --list).", nil, nil)
)

// Collector exports what waits in one spool, read at each scrape from the
// file names alone: the spool of the host the exporter runs on.
type Collector struct {
	sp *spool.Spool
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector exports the spool in dir.
func NewCollector(dir string) (*Collector, error) {
	sp, err := spool.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Collector{sp: sp}, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- spoolReadableDesc
	ch <- spoolResultsDesc
	ch <- spoolOldestDesc
	ch <- spoolRejectedDesc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	n, oldest, err := c.sp.Waiting()
	rejected, rerr := c.sp.RejectedCount()
	if err != nil || rerr != nil {
		ch <- prometheus.MustNewConstMetric(spoolReadableDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(spoolReadableDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(spoolResultsDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(spoolRejectedDesc, prometheus.GaugeValue, float64(rejected))
	if n > 0 && !oldest.IsZero() {
		ch <- prometheus.MustNewConstMetric(spoolOldestDesc, prometheus.GaugeValue, float64(oldest.UnixNano())/1e9)
	}
}
