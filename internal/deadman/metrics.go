package deadman

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	lastDesc = prometheus.NewDesc("backupwatch_deadman_last_heartbeat_timestamp_seconds",
		"When the sender's latest heartbeat arrived (absent if none since the state began).", []string{"sender"}, nil)
	countDesc = prometheus.NewDesc("backupwatch_deadman_heartbeats_total",
		"Heartbeats received from the sender.", []string{"sender"}, nil)
	silentDesc = prometheus.NewDesc("backupwatch_deadman_sender_silent",
		"1 if the sender sent nothing for longer than --timeout (0 during the first --timeout after a start).", []string{"sender"}, nil)
	judgingDesc = prometheus.NewDesc("backupwatch_deadman_judging",
		"1 once the first --timeout after a start has passed and silences are told.", nil, nil)
	timeoutDesc = prometheus.NewDesc("backupwatch_deadman_timeout_seconds",
		"A sender is silent after this long without a heartbeat.", nil, nil)
	rejectedDesc = prometheus.NewDesc("backupwatch_deadman_heartbeats_rejected_total",
		"Requests to /heartbeat not counted as a heartbeat, by reason.", []string{"reason"}, nil)
	sentDesc = prometheus.NewDesc("backupwatch_deadman_notifications_total",
		"Messages delivered to a person, by notifier.", []string{"notifier"}, nil)
	failedDesc = prometheus.NewDesc("backupwatch_deadman_notifications_failed_total",
		"Messages that could not be delivered (tried again at the next check), by notifier.", []string{"notifier"}, nil)
	stateErrDesc = prometheus.NewDesc("backupwatch_deadman_state_file_errors_total",
		"State file reads and writes that failed, or found it corrupt or from the future.", nil, nil)
)

var _ prometheus.Collector = (*Switch)(nil)

// Describe implements prometheus.Collector.
func (s *Switch) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lastDesc, countDesc, silentDesc, judgingDesc, timeoutDesc, rejectedDesc, sentDesc, failedDesc, stateErrDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector, from a snapshot of the state.
func (s *Switch) Collect(ch chan<- prometheus.Metric) {
	senders, judging := s.Snapshot()
	for _, st := range senders {
		if !st.Last.IsZero() {
			ch <- prometheus.MustNewConstMetric(lastDesc, prometheus.GaugeValue, float64(st.Last.UnixMilli())/1000, st.Name)
		}
		ch <- prometheus.MustNewConstMetric(countDesc, prometheus.CounterValue, st.Count, st.Name)
		ch <- prometheus.MustNewConstMetric(silentDesc, prometheus.GaugeValue, b2f(st.Silent), st.Name)
	}
	ch <- prometheus.MustNewConstMetric(judgingDesc, prometheus.GaugeValue, b2f(judging))
	ch <- prometheus.MustNewConstMetric(timeoutDesc, prometheus.GaugeValue, s.opts.Timeout.Seconds())
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, reason := range []string{reasonTooLarge, reasonBadJSON, reasonResolved, reasonUnknownSender, reasonBadSender, reasonMethod} {
		ch <- prometheus.MustNewConstMetric(rejectedDesc, prometheus.CounterValue, s.rejected[reason], reason)
	}
	for _, n := range slices.Sorted(maps.Keys(s.told)) {
		ch <- prometheus.MustNewConstMetric(sentDesc, prometheus.CounterValue, s.sent[n], n)
		ch <- prometheus.MustNewConstMetric(failedDesc, prometheus.CounterValue, s.failed[n], n)
	}
	ch <- prometheus.MustNewConstMetric(stateErrDesc, prometheus.CounterValue, s.stateErr)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
