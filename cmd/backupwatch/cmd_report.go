package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/report"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

type reportOptions struct {
	since      string
	configFile string
	now        func() time.Time // time.Now when nil; tests fix it
}

func addReportCommand(app *kingpin.Application, g *globals) command {
	o := &reportOptions{}
	c := app.Command("report", "Print how the fleet's backups went over a period, from the runs the records keep (the last 30 of each): the share of runs that succeeded, what failed, what is overdue, sizes, the restore tests.")
	c.Flag("since", "The period: how far back from now (1h, 24h, 7d).").Default("7d").StringVar(&o.since)
	c.Flag("config.file", "YAML file listing expected hosts and jobs, as for serve: an expected one with no record is reported as never succeeded, and judged by its schedule.").StringVar(&o.configFile)
	return command{c, func(ctx context.Context) error { return runReport(ctx, g, o) }}
}

// detailer reads a record with its history: both stores do.
type detailer interface {
	Detail(ctx context.Context, key string) (map[string]any, error)
}

func runReport(ctx context.Context, g *globals, o *reportOptions) error {
	period, err := schedule.ParseDuration(o.since)
	if err != nil || period <= 0 {
		return usageError{fmt.Errorf("--since %q: want a positive duration such as 7d or 24h", status.Truncate(o.since, 40))}
	}
	var cfg *config.Config
	opts := fleet.Options{}
	if o.configFile != "" {
		if cfg, err = config.Load(o.configFile); err != nil {
			return usageError{err}
		}
		opts.Expected, opts.Jobs, opts.Schedules = cfg.Hosts, cfg.Jobs, cfg
	}
	st, err := g.store.openRead(g, 8)
	if err != nil {
		return err
	}
	d, ok := st.(detailer)
	if !ok {
		return fmt.Errorf("report: %s keeps no history", st.String())
	}
	now := time.Now()
	if o.now != nil {
		now = o.now()
	}
	snap := fleet.Load(ctx, st, opts, nil)
	if snap.Err != nil {
		return snap.Err
	}
	view := statusview.Build(snap, 0, now)
	records := make([]report.Record, 0, len(view.Hosts))
	for _, row := range view.Hosts {
		r := report.Record{Row: row}
		doc, err := d.Detail(ctx, status.Key(row.Host, row.Job))
		switch {
		case errors.Is(err, status.ErrNotFound), errors.Is(err, status.ErrMalformed):
		case err != nil:
			return fmt.Errorf("report: read the history of %s: %w", status.Name(row.Host, row.Job), err)
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
	return report.Build(st.String(), records, restore, now.Add(-period), now).WriteText(g.stdout)
}
