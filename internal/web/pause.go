package web

import (
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// PauseView is a pause in force (`backupwatch pause`): its host's or
// job's alerts are held back until it ends.
type PauseView struct {
	Host   string
	Job    string
	Until  When
	Reason string // one clean bounded line; escaped by the template
}

// pauses are snap's pauses in force at now, in host and job order.
func pauses(snap *fleet.Snapshot, now time.Time) []PauseView {
	var out []PauseView
	for _, p := range snap.Pauses {
		if p.Active(now) {
			out = append(out, pauseView(p, now))
		}
	}
	return out
}

func pauseView(p status.Pause, now time.Time) PauseView {
	// Not when(): an end ahead is what a pause is, not a wrong clock.
	until := When{Abs: absolute(p.Until), ISO: p.Until.UTC().Format(time.RFC3339), Rel: "in " + span(p.Until.Sub(now))}
	return PauseView{Host: oneLine(p.Host, maxHostText), Job: oneLine(p.Job, maxHostText), Until: until, Reason: oneLine(p.Reason, maxLine)}
}

// pausedText is what a tile says of the pause that covers it, "" when
// none does.
func pausedText(snap *fleet.Snapshot, host, job string, now time.Time) string {
	v, ok := coveringPause(snap, host, job, now)
	if !ok {
		return ""
	}
	return "paused until " + v.Until.Abs + ": " + v.Reason
}

// coveringPause is the pause in force over host's job: the job's own,
// else its host's.
func coveringPause(snap *fleet.Snapshot, host, job string, now time.Time) (PauseView, bool) {
	p, ok := snap.Pause(host, job)
	if !ok || !p.Active(now) {
		p, ok = snap.Pause(host, "")
	}
	if !ok || !p.Active(now) {
		return PauseView{}, false
	}
	return pauseView(p, now), true
}
