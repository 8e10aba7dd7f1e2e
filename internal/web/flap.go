package web

import (
	"strconv"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Flapping as BackupFlapping measures it (deploy/prometheus/backup.yml):
// at least flapChanges changes between failed and succeeded within
// flapWindow. The host page shows it from the record's history; the status
// page does not, as its refresh never reads histories (their cost would
// grow with the fleet) and no other field of a record tells it.
const (
	flapWindow  = 6 * time.Hour
	flapChanges = 3
)

// flapping is what the host page says of a history (oldest first) that
// flaps at now, "" when it does not. A change is counted from the last
// run before the window too, as changes() over the exporter's series
// counts it.
func flapping(entries []status.Entry, now time.Time) string {
	from := now.Add(-flapWindow)
	var prev string
	changes, runs, failed := 0, 0, 0
	for _, e := range entries {
		if e.At.After(now) {
			continue // a wrong clock's run is no evidence
		}
		if e.At.After(from) {
			runs++
			if e.Outcome == status.Failed {
				failed++
			}
			if prev != "" && e.Outcome != prev {
				changes++
			}
		}
		prev = e.Outcome
	}
	if changes < flapChanges {
		return ""
	}
	return "Flapping: its outcome changed " + strconv.Itoa(changes) + " times between failed and succeeded in the last " + span(flapWindow) +
		"; " + strconv.Itoa(failed) + " of its last " + strconv.Itoa(runs) + " runs failed."
}
