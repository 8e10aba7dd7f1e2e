package web

import (
	"strconv"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// HostView is what a host page shows.
type HostView struct {
	Title, Host, Job, Name string
	Home                   string // the status page, relative to this one
	Err                    string // the page's only text when set
	Tile                   Tile
	Paused                 *PauseView // the pause in force over it, if any
	Flapping               string     // what its history says of flapping; "" when it does not flap
	Charts                 []Chart
	Rows                   []Row // newest first
	Problems               []string
	Log                    string
	LogAt                  When
	LogExit                *int64
	LogErr                 bool // the log could not be read
}

// Chart is one strip of the history as an inline SVG: a bar per result,
// oldest left.
type Chart struct {
	Title, Desc string
	Width       int
	Height      int
	Bars        []Bar
}

// Bar is one result in a chart.
type Bar struct {
	X, Y, W, H float64
	Fill       string
	Label      string // the bar's <title>: its time and value
}

// Row is one result in the table under the charts.
type Row struct {
	When     When
	Outcome  string
	Colour   string
	Exit     string
	Duration string
	Files    string
	Size     string
	Reason   string
}

const (
	barWidth   = 12
	barGap     = 2
	chartH     = 48
	green      = "#2e7d32"
	red        = "#c62828"
	durationBg = "#1565c0"
)

// historyView lays out entries (oldest first) as three charts (outcome,
// duration, size) and the table's rows, newest first.
func historyView(entries []status.Entry, now time.Time) ([]Chart, []Row) {
	if len(entries) == 0 {
		return nil, nil
	}
	width := len(entries) * (barWidth + barGap)
	outcomes := Chart{Title: "Outcomes", Desc: "one square per run, oldest left: green succeeded, red failed", Width: width, Height: barWidth}
	durations := Chart{Title: "Durations", Desc: "bar height is the run's duration, tallest the longest", Width: width, Height: chartH}
	sizes := Chart{Title: "Size", Desc: "bar height is the bytes the snapshot holds (restic's total processed)", Width: width, Height: chartH}
	var maxD float64
	var maxB int64
	for _, e := range entries {
		if e.Duration != nil && *e.Duration > maxD {
			maxD = *e.Duration
		}
		if e.BytesProcessed != nil && *e.BytesProcessed > maxB {
			maxB = *e.BytesProcessed
		}
	}
	rows := make([]Row, 0, len(entries))
	for i, e := range entries {
		x := float64(i * (barWidth + barGap))
		fill, word := green, "succeeded"
		if e.Outcome == status.Failed {
			fill, word = red, "failed"
		}
		at := absolute(e.At)
		outcomes.Bars = append(outcomes.Bars, Bar{X: x, W: barWidth, H: barWidth, Fill: fill, Label: at + ": " + word})
		row := Row{When: when(e.At, now), Outcome: word, Colour: fill, Exit: "–", Duration: "–", Files: "–", Size: "–", Reason: oneLine(e.Reason, maxLine)}
		if e.ExitCode != nil {
			row.Exit = strconv.FormatInt(*e.ExitCode, 10)
		}
		if e.Duration != nil {
			row.Duration = duration(*e.Duration)
			durations.Bars = append(durations.Bars, bar(x, *e.Duration/maxD, fill, at+": "+row.Duration))
		}
		if e.FilesProcessed != nil {
			row.Files = strconv.FormatInt(*e.FilesProcessed, 10)
		}
		if e.BytesProcessed != nil && *e.BytesProcessed >= 0 {
			row.Size = bytesText(*e.BytesProcessed)
			sizes.Bars = append(sizes.Bars, bar(x, float64(*e.BytesProcessed)/float64(maxB), durationBg, at+": "+row.Size))
		}
		rows = append(rows, row)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	charts := []Chart{outcomes}
	for _, c := range []Chart{durations, sizes} {
		if len(c.Bars) > 0 {
			charts = append(charts, c)
		}
	}
	return charts, rows
}

// bar is a bar of height share (0..1) of the chart, at least 2 pixels so
// that a run is always seen.
func bar(x, share float64, fill, label string) Bar {
	if share != share || share < 0 {
		share = 0
	}
	h := max(2, share*chartH)
	return Bar{X: x, Y: chartH - h, W: barWidth, H: h, Fill: fill, Label: label}
}

// duration is a run's duration in seconds as people read it.
func duration(secs float64) string {
	d := time.Duration(secs * float64(time.Second))
	if d < time.Minute {
		return strconv.FormatFloat(secs, 'f', 1, 64) + " s"
	}
	return span(d)
}
