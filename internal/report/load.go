package report

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/deadman"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

// Source is a store the report reads: the fleet's records, and each
// record with its history (both stores).
type Source interface {
	fleet.Source
	Detail(ctx context.Context, key string) (map[string]any, error)
	String() string
}

// Load builds the report of the period since..now from the fleet in src
// (opts: the expected hosts and jobs and their schedules) and the
// histories of its records; labels gives a host's labels (its team), nil
// for none.
func Load(ctx context.Context, src Source, opts fleet.Options, labels func(host string) map[string]string, since, now time.Time) (Report, error) {
	snap := fleet.Load(ctx, src, opts, nil)
	if snap.Err != nil {
		return Report{}, snap.Err
	}
	view := statusview.Build(snap, 0, now)
	records := make([]Record, 0, len(view.Hosts))
	for _, row := range view.Hosts {
		r := Record{Row: row}
		if labels != nil {
			r.Team = team(labels(row.Host))
		}
		doc, err := src.Detail(ctx, status.Key(row.Host, row.Job))
		switch {
		case errors.Is(err, status.ErrNotFound), errors.Is(err, status.ErrMalformed):
		case err != nil:
			return Report{}, fmt.Errorf("report: read the history of %s: %w", status.Name(row.Host, row.Job), err)
		default:
			r.History, _ = status.History(doc)
		}
		records = append(records, r)
	}
	var restore []statusview.RestoreTest
	if view.RestoreTest != nil {
		restore = append(restore, *view.RestoreTest)
	}
	restore = append(restore, view.RestoreTestJobs...)
	return Build(src.String(), records, restore, since, now), nil
}

// team is a host's team for the report: its team label, else its owner
// label (the config file's labels); "" for neither.
func team(labels map[string]string) string {
	if t := labels["team"]; t != "" {
		return t
	}
	return labels["owner"]
}

// Message is the report as a mail: its title, text and HTML.
func (r Report) Message() (deadman.Message, error) {
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		return deadman.Message{}, err
	}
	var page strings.Builder
	if err := r.WriteHTML(&page); err != nil {
		return deadman.Message{}, err
	}
	return deadman.Message{Kind: "report", Title: r.Title(), Text: text.String(), HTML: page.String()}, nil
}
