package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

type statusOptions struct {
	hosts      []string
	configFile string
	output     string
	maxAge     time.Duration
	maxAgeSet  bool
	switches   switchOptions
}

func addStatusCommand(app *kingpin.Application, g *globals) command {
	o := &statusOptions{}
	c := app.Command("status", "Show every host's backup status; exits 3 when a host is overdue, failed or unknown, when a --deadman.url switch is unreachable or hears a sender silent, when the last restore test failed, is more than 90 days old or was never recorded (as RestoreTestOverdue), or when there are no hosts at all.")
	c.Flag("host", "Only this host (repeatable); a named host with no record is shown as unknown. The restore test is then shown but does not change the exit status.").StringsVar(&o.hosts)
	c.Flag("config.file", "YAML file listing expected hosts, as for serve: an expected host with no record is shown as unknown.").StringVar(&o.configFile)
	c.Flag("output", "Output format: table (the default, for people) or json (for scripts).").PlaceHolder("table|json").Short('o').Default("table").EnumVar(&o.output, "table", "json")
	c.Flag("max-age", "A host or job whose last success is older than this is overdue, whatever its schedule; default: each one's own deadline (its schedule; 24h when it has none).").Default("24h").IsSetByUser(&o.maxAgeSet).DurationVar(&o.maxAge)
	o.switches.addFlags(c)
	return command{c, func(ctx context.Context) error { return runStatus(ctx, g, o) }}
}

func runStatus(ctx context.Context, g *globals, o *statusOptions) error {
	for _, h := range o.hosts {
		if err := status.ValidateHost(h); err != nil {
			return usageError{err}
		}
	}
	readers, err := o.switches.readers()
	if err != nil {
		return err
	}
	expected := o.hosts
	var cfg *config.Config
	if o.configFile != "" {
		var err error
		if cfg, err = config.Load(o.configFile); err != nil {
			return usageError{err}
		}
		if len(o.hosts) == 0 {
			expected = cfg.Hosts
		}
	}
	var jobs []status.JobID
	if cfg != nil {
		for _, id := range cfg.Jobs {
			if len(o.hosts) == 0 || slices.Contains(o.hosts, id.Host) {
				jobs = append(jobs, id)
			}
		}
	}
	st, err := g.store.openRead(g, 8)
	if err != nil {
		return err
	}
	src := fleet.Source(st)
	if len(o.hosts) > 0 {
		src = statusview.OnlyHosts{Store: st, Hosts: o.hosts}
	}
	opts := fleet.Options{Expected: expected, Jobs: jobs}
	if cfg != nil {
		opts.Schedules = cfg
	}
	snap := fleet.Load(ctx, src, opts, nil)
	if snap.Err != nil {
		return snap.Err
	}
	maxAge := time.Duration(0) // each record's own deadline
	if o.maxAgeSet {
		maxAge = o.maxAge
	}
	rep := statusview.Build(snap, maxAge, time.Now())
	statusview.AddAlertingPath(&rep, readSwitches(ctx, readers), time.Now())
	if o.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := statusview.WriteTable(g.stdout, rep); err != nil {
		return err
	}
	switch why := statusview.Unhealthy(rep, len(o.hosts) > 0); {
	case why == "":
		return nil
	case len(rep.Hosts) == 0:
		return &exitCode{code: exitUnhealthy, err: fmt.Errorf("no hosts: %s has no records and no host is expected (--config.file, --host)", st.String())}
	default:
		return &exitCode{code: exitUnhealthy}
	}
}
