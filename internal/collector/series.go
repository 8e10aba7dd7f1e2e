package collector

import (
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Series budget. A host written by `record` exports some 12 series (its
// jobs as many each): the runbook's status enum (3) and age, the
// timestamps and deadlines the shipped rules read, the record's problems,
// and what restic's summary says. At 100,000 hosts that is 1.2 million
// series and some 90 MB of text per scrape (docs/operations.md, "Series
// budget"). HostSeriesAlerting drops the families that no shipped rule,
// Alertmanager template, dashboard panel or runbook section reads, for
// fleets where Prometheus' cost matters more than those graphs.

// Values of Options.HostSeries (serve's --metrics.host-series).
const (
	HostSeriesAll      = "all"
	HostSeriesAlerting = "alerting"
)

// alertingDropped are the host families HostSeriesAlerting leaves out.
var alertingDropped = []*prometheus.Desc{
	consecutiveFailures, lastExitCode, lastFailureTS, bytesAdded, snapshotFiles, pingFailures,
}

// AlertingDropped names the families HostSeriesAlerting leaves out, for
// the docs and flag help.
func AlertingDropped() []string {
	var out []string
	for _, d := range alertingDropped {
		m := descRE.FindStringSubmatch(d.String())
		if m != nil {
			out = append(out, m[1][1:len(m[1])-1])
		}
	}
	return out
}

// ValidHostSeries checks a HostSeries value.
func ValidHostSeries(s string) error {
	if s == "" || s == HostSeriesAll || s == HostSeriesAlerting {
		return nil
	}
	return fmt.Errorf("want %s or %s, not %q", HostSeriesAll, HostSeriesAlerting, s)
}

// hostGauge is the gauge collectHosts sends through: send's, without the
// families hostSeries leaves out (a job's twin goes with its family).
func hostGauge(send func(*prometheus.Desc, prometheus.ValueType, float64, ...string), hostSeries string) gauge {
	if hostSeries != HostSeriesAlerting {
		return func(d *prometheus.Desc, v float64, labels ...string) { send(d, prometheus.GaugeValue, v, labels...) }
	}
	return func(d *prometheus.Desc, v float64, labels ...string) {
		if !slices.Contains(alertingDropped, family(d)) {
			send(d, prometheus.GaugeValue, v, labels...)
		}
	}
}
