package collector

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/fleet"
)

// Maintenance and owners: a pause's end, and each host's labels from the
// config file, for the rules to join into its alerts.

var (
	pausedUntil = desc("backup_paused_until_timestamp_seconds",
		"When the host's pause (`backupwatch pause`) ends: its alerts are held back until then (BackupPaused); a time in the past once it has ended or been resumed. Absent for a host never paused.", "host")
	hostInfo = desc("backup_host_info", hostInfoHelp, "host")
)

const hostInfoHelp = "The host's labels from the config file (hosts: and schedules: labels), for the rules to join into its alerts; always 1. Absent for a host with none."

func init() { allDescs = append(allDescs, pausedUntil, hostInfo) }

// Labeler gives the labels of a host (the config file's); nil or empty
// for none. The names are valid label names other than the exporter's
// own, the values one line each (config.Validate).
type Labeler interface {
	HostLabels(host string) map[string]string
}

// infoDescs are backup_host_info's descriptors, one per set of label
// names, each standing for hostInfo's family (see family).
var infoDescs sync.Map // names joined by "," -> *prometheus.Desc

func infoDesc(names []string) *prometheus.Desc {
	k := strings.Join(names, ",")
	if d, ok := infoDescs.Load(k); ok {
		return d.(*prometheus.Desc)
	}
	d, _ := infoDescs.LoadOrStore(k, prometheus.NewDesc("backup_host_info", hostInfoHelp, append([]string{"host"}, names...), nil))
	return d.(*prometheus.Desc)
}

// isInfoDesc reports whether d is one of infoDescs.
func isInfoDesc(d *prometheus.Desc) bool {
	found := false
	infoDescs.Range(func(_, v any) bool {
		found = v.(*prometheus.Desc) == d
		return !found
	})
	return found
}

// collectOnCall sends the pauses and the hosts' labels.
func collectOnCall(g gauge, snap *fleet.Snapshot, labels Labeler) {
	for _, p := range snap.Pauses {
		if p.Until.IsZero() {
			continue // unreadable: no end to export
		}
		pg := g
		if p.Job != "" {
			pg = jobGauge(g, labelValue(p.Job))
		}
		pg(pausedUntil, float64(p.Until.Unix()), hostLabel(p.Host))
	}
	if labels == nil {
		return
	}
	seen := map[string]bool{}
	for _, h := range hostsOf(snap) {
		if seen[h] {
			continue
		}
		seen[h] = true
		ls := labels.HostLabels(h)
		if len(ls) == 0 {
			continue
		}
		names := slices.Sorted(maps.Keys(ls))
		values := []string{hostLabel(h)}
		for _, n := range names {
			values = append(values, labelValue(ls[n]))
		}
		g(infoDesc(names), 1, values...)
	}
}

// hostsOf lists the snapshot's hosts: those with a record of their own
// and those reporting through jobs only.
func hostsOf(snap *fleet.Snapshot) []string {
	var hs []string
	for _, r := range snap.Hosts.All() {
		hs = append(hs, r.Host)
	}
	for _, r := range snap.Jobs.All() {
		hs = append(hs, r.Host)
	}
	return hs
}
