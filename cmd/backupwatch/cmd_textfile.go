package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/collector"
	exp "github.com/golemtrust/backupwatch/internal/exporter" // the tests have a type exporter
)

type textfileOptions struct {
	fleet       fleetOptions
	output      string
	concurrency int
}

func addTextfileCommand(app *kingpin.Application, g *globals) command {
	o := &textfileOptions{}
	c := app.Command("textfile", "Read every record once and write the metrics for node_exporter's textfile collector (the runbook's cron job). Exits non-zero, leaving the previous file as it was, when the store cannot be read.")
	c.Flag("output", "File to write, in node_exporter's --collector.textfile.directory; must end in .prom.").Required().StringVar(&o.output)
	c.Flag("refresh.concurrency", "Records read at once; by default 8, also the keep-alive connections kept to Vault.").Default(fmt.Sprint(collector.DefaultWorkers)).IntVar(&o.concurrency)
	o.fleet.addFlags(c)
	return command{c, func(ctx context.Context) error { return runTextfile(ctx, g, o) }}
}

func (o *textfileOptions) validate() error {
	var errs []error
	if !strings.HasSuffix(o.output, ".prom") {
		errs = append(errs, fmt.Errorf("--output %s: node_exporter's textfile collector reads only *.prom files", o.output))
	}
	if err := exp.ValidateConcurrency(o.concurrency); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return nil
}

func runTextfile(ctx context.Context, g *globals, o *textfileOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	hosts, cfg, err := o.fleet.load()
	if err != nil {
		return err
	}
	if fi, err := os.Stat(filepath.Dir(o.output)); err != nil {
		return fmt.Errorf("--output %s: %w", o.output, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("--output %s: %s is not a directory", o.output, filepath.Dir(o.output))
	}
	st, err := g.store.openRead(g, o.concurrency)
	if err != nil {
		return err
	}
	c := collector.New(collector.Options{Source: st, Expected: hosts, Jobs: cfg.Jobs, Schedule: cfg, Labels: cfg, Escalation: cfg, Workers: o.concurrency, Logger: g.logger})
	snap := c.Refresh(ctx)
	if snap.Err != nil {
		// The old file stays: its age (node_textfile_mtime_seconds) shows
		// that the data is stale.
		return fmt.Errorf("%s not written: %w", o.output, snap.Err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s not written: %w", o.output, err)
	}

	if err := exp.WriteTextfile(o.output, c, g.logger); err != nil {
		return err
	}
	g.logger.Info("metrics written", "file", o.output, "hosts", snap.Hosts.Len(), "duration", snap.Duration)
	return nil
}
