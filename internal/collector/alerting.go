package collector

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/status"
)

// The series below exist for the alert texts (deploy/prometheus/backup.yml
// queries them in its annotations): why a backup failed, whether a host has
// ever reported, and where the status page is.
var (
	recordPresent = desc("backup_record_present",
		"1 when the store holds a record for the host, 0 for an expected host with none (it has never reported).", "host")
	lastFailureInfo = desc("backup_last_failure_info",
		"Exit code and last error line of the host's latest backup, only while that backup is recorded as failed; always 1.",
		"host", "exit_code", "message")
	restoreTestFailureInfo = desc("backup_restore_test_failure_info",
		"What the last restore test recorded (its notes, one line), only while it is not recorded as passed; always 1.", "notes")
	webInfo = desc("backupwatch_web_info",
		"The status page's external URL (serve --web.external-url), for links in alert texts; always 1.", "external_url")
)

// alertingDescs are the families above that come from the snapshot.
var alertingDescs = []*prometheus.Desc{recordPresent, lastFailureInfo, restoreTestFailureInfo}

// MaxInfoText bounds a free-text label (a recorded error line or notes):
// one line, at most this many characters, "…" when cut. The text is
// scrubbed at record time already; here it is made a label that cannot
// bloat a series, a scrape or a notification.
const MaxInfoText = 200

// InfoText is s as an info label value: control characters (newlines,
// escapes, NULs) and runs of spaces become one space, invalid UTF-8 is
// replaced, and the result is cut to MaxInfoText characters with "…".
func InfoText(s string) string {
	s = labelValue(s)
	var b strings.Builder
	n, space := 0, false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			space = b.Len() > 0
			continue
		}
		if n == MaxInfoText {
			b.WriteString("…")
			return b.String()
		}
		if space {
			if n+1 == MaxInfoText {
				b.WriteString("…")
				return b.String()
			}
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// collectAlerting sends a host's alerting series; r has been read (not Unread).
func collectAlerting(g func(*prometheus.Desc, float64, ...string), r *status.Record, host string) {
	g(recordPresent, float64(boolInt(!r.NoRecord)), host)
	if r.Status != status.Failed {
		return
	}
	code := ""
	if r.ExitCode != nil {
		code = strconv.FormatInt(*r.ExitCode, 10)
	}
	g(lastFailureInfo, 1, host, code, InfoText(r.Message))
}

// collectRestoreAlerting sends the restore test's alerting series.
func collectRestoreAlerting(g func(*prometheus.Desc, float64, ...string), rt *status.RestoreTest) {
	if rt.Passed() {
		return
	}
	g(restoreTestFailureInfo, 1, InfoText(rt.Notes))
}

// WebInfo is a collector of backupwatch_web_info for the status page at
// externalURL (its trailing slash removed), or of nothing when that is "".
func WebInfo(externalURL string) prometheus.Collector {
	return webInfoCollector(strings.TrimRight(externalURL, "/"))
}

type webInfoCollector string

func (w webInfoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- webInfo }
func (w webInfoCollector) Collect(ch chan<- prometheus.Metric) {
	if w != "" {
		ch <- prometheus.MustNewConstMetric(webInfo, prometheus.GaugeValue, 1, labelValue(string(w)))
	}
}
