package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// collectHosts sends the series of snap's hosts, jobs and pauses: every
// series with a host label.
func collectHosts(g gauge, snap *fleet.Snapshot, labels Labeler, esc Escalations) {
	for _, r := range snap.Hosts.All() {
		host := hostLabel(r.Host)
		g(recordProblems, float64(len(r.Problems)), host)
		if r.Unread {
			// Nothing read yet: no status rather than a false one, so a
			// restart during a Vault outage pages once (the store is
			// unreachable), not once per host.
			continue
		}
		collectRecord(g, r, host)
	}
	collectJobs(g, snap)
	collectOnCall(g, snap, labels)
	collectEscalation(g, snap, esc)
}

// collectRecord sends the series of a record that has been read (not
// Unread): a host's, or through a job's g (see collectJobs) a job's.
func collectRecord(g func(*prometheus.Desc, float64, ...string), r *status.Record, host string) {
	ts := func(t time.Time) float64 { return float64(t.Unix()) }
	for _, s := range status.Statuses {
		g(backupStatus, float64(boolInt(r.Status == s)), host, s)
	}
	collectAlerting(g, r, host)
	collectAnomaly(g, r, host)
	if !r.LastSuccess.IsZero() {
		g(lastSuccessTS, ts(r.LastSuccess), host)
	}
	if !r.LastFailure.IsZero() {
		g(lastFailureTS, ts(r.LastFailure), host)
	}
	if !r.LastAttempt.IsZero() {
		g(lastAttemptTS, ts(r.LastAttempt), host)
	}
	if !r.NoRecord {
		g(clockAhead, r.Ahead().Seconds(), host)
	}
	if r.ClockOffset != nil {
		g(clockOffset, r.ClockOffset.Seconds(), host)
	}
	optInt(g, consecutiveFailures, r.ConsecutiveFailures, host)
	optInt(g, lastExitCode, r.ExitCode, host)
	if r.DurationSeconds != nil {
		g(lastDuration, *r.DurationSeconds, host)
	}
	optInt(g, bytesAdded, r.BytesAdded, host)
	optInt(g, snapshotFiles, r.FilesNew, host, "new")
	optInt(g, snapshotFiles, r.FilesChanged, host, "changed")
	optInt(g, snapshotFiles, r.FilesUnmodified, host, "unmodified")
	optInt(g, pingFailures, r.PingFailures, host)
}

// collectJobs sends the schedule series of every host, and every series of
// every job (the restore test jobs' are collectFleet's).
func collectJobs(g gauge, snap *fleet.Snapshot) {
	now := snap.Started
	for _, r := range snap.Hosts.All() {
		if !r.Unread {
			collectSchedule(g, r, hostLabel(r.Host), now)
		}
	}
	for _, r := range snap.Jobs.All() {
		jg := jobGauge(g, labelValue(r.Job))
		host := hostLabel(r.Host)
		jg(recordProblems, float64(len(r.Problems)), host)
		if r.Unread {
			continue
		}
		collectRecord(jg, r, host)
		collectSchedule(jg, r, host, now)
	}
}

// maxHostLabel bounds the host label. A key under the prefix is a host,
// and a store takes keys far longer than any host name (Vault's raft
// storage some 32 KiB): one such key would repeat itself in every series
// of its host and, on a Prometheus with label_value_length_limit, fail the
// whole scrape, silencing every backup alert.
const maxHostLabel = 253

// hostLabel is the host label of a host name: the name itself or, when
// that is longer than maxHostLabel or not valid UTF-8, its start made
// valid and a hash of the whole, so that two such names never share a
// label (a duplicate series fails the scrape). Such a host's record
// already has a problem saying what is wrong with its name.
func hostLabel(h string) string {
	v := labelValue(h)
	if v == h && len(h) <= maxHostLabel {
		return h
	}
	sum := sha256.Sum256([]byte(h))
	return status.Truncate(v, maxHostLabel-32) + hex.EncodeToString(sum[:8])
}

// labelValue makes a stored string a valid label value. The client library
// escapes quotes, backslashes and newlines; it refuses invalid UTF-8, which
// a store could hold, so that is replaced here rather than failing a scrape.
func labelValue(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
