package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/expfmt"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
	"github.com/golemtrust/backupwatch/internal/collector"
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
	if o.concurrency < 1 || o.concurrency > 256 {
		errs = append(errs, fmt.Errorf("--refresh.concurrency must be between 1 and 256, not %d", o.concurrency))
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

	reg := prometheus.NewRegistry()
	// No Go or process metrics: node_exporter has its own, and the textfile
	// collector refuses a family that it already exports.
	reg.MustRegister(c, versioncollector.NewCollector("backupwatch"))
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("%s not written: %w", o.output, err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("%s not written: %w", o.output, err)
		}
	}
	removeStaleTemps(g, o.output)
	if err := atomicfile.Write(o.output, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", o.output, err)
	}
	g.logger.Info("metrics written", "file", o.output, "hosts", len(snap.Hosts), "duration", snap.Duration)
	return nil
}

// removeStaleTemps deletes what a run killed during its write left behind:
// atomicfile's temporary files for this output. A live run holds its
// temporary file for milliseconds, so one older than a minute is an orphan.
// node_exporter ignores them (they do not end in .prom); this keeps the
// directory clean.
func removeStaleTemps(g *globals, output string) {
	dir, base := filepath.Split(output)
	if dir == "" {
		dir = "."
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "."+base+".tmp-") {
			continue
		}
		m := filepath.Join(dir, e.Name())
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) > time.Minute {
			if err := os.Remove(m); err == nil {
				g.logger.Info("removed a temporary file left by an interrupted run", "file", m)
			}
		}
	}
}
