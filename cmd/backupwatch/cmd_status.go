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
	job        string
	configFile string
	output     string
	maxAge     time.Duration
	maxAgeSet  bool
	nagios     nagiosFlags // --format=nagios's thresholds (cmd_status_nagios.go)
	switches   switchOptions
}

func addStatusCommand(app *kingpin.Application, g *globals) command {
	o := &statusOptions{}
	c := app.Command("status", "Show every host's backup status; exits 3 when a host is overdue, failed or unknown, when a --deadman.url switch is unreachable or hears a sender silent, when the last restore test failed, is more than 90 days old or was never recorded (as RestoreTestOverdue), or when there are no hosts at all; with --format=nagios, exits as a monitoring plugin (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).")
	c.Flag("host", "Only this host (repeatable); a named host with no record is shown as unknown. The restore test is then shown but does not change the exit status. Default: every host.").StringsVar(&o.hosts)
	c.Flag("job", "Only this job's records: on every host, or with --host on the named hosts (then a named host's job with no record is shown as unknown). The restore test does not change the exit status.").PlaceHolder("JOB").StringVar(&o.job)
	c.Flag("config.file", "YAML file listing expected hosts, as for serve: an expected host with no record is shown as unknown. Default: none, only the hosts found in the store.").StringVar(&o.configFile)
	c.Flag("output", "Output format: table (the default, for people), json (for scripts) or nagios (a check for Nagios, Icinga, Checkmk or Zabbix: exit 0, 1, 2 or 3 for OK, WARNING, CRITICAL or UNKNOWN, with performance data; docs/monitoring-plugins.md).").PlaceHolder("table|json|nagios").Short('o').Default("table").EnumVar(&o.output, formats...)
	c.Flag("format", "The same as --output, with its default.").PlaceHolder("table|json|nagios").EnumVar(&o.output, formats...)
	o.nagios.add(c)
	c.Flag("max-age", "A host or job whose last success is older than this is overdue, whatever its schedule; default: each one's own deadline (its schedule; 24h when it has none).").Default("24h").IsSetByUser(&o.maxAgeSet).DurationVar(&o.maxAge)
	o.switches.addFlags(c)
	return command{c, func(ctx context.Context) error { return runStatus(ctx, g, o) }}
}

// formats are status's output formats.
var formats = []string{"table", "json", "nagios"}

func runStatus(ctx context.Context, g *globals, o *statusOptions) error {
	for _, h := range o.hosts {
		if err := status.ValidateHost(h); err != nil {
			return usageError{err}
		}
	}
	if o.job != "" {
		if err := status.ValidateJob(o.job); err != nil {
			return usageError{err}
		}
	}
	thresholds, err := o.nagios.resolve(o.output == "nagios", o.maxAgeSet)
	if err != nil {
		return usageError{err}
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
			if (len(o.hosts) == 0 || slices.Contains(o.hosts, id.Host)) && (o.job == "" || id.Job == o.job) {
				jobs = append(jobs, id)
			}
		}
	}
	if o.job != "" {
		// A named host's job is expected: with no record, it is unknown.
		for _, h := range o.hosts {
			if id := (status.JobID{Host: h, Job: o.job}); !slices.Contains(jobs, id) {
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
	now := time.Now()
	rep := statusview.Build(snap, maxAge, now)
	narrowed := len(o.hosts) > 0
	if o.job != "" {
		rep, narrowed = statusview.OnlyJob(rep, o.job), true
	}
	if o.output == "nagios" {
		return checkNagios(g.stdout, st.String(), rep, thresholds, narrowed, now)
	}
	statusview.AddAlertingPath(&rep, readSwitches(ctx, readers), now)
	if o.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := statusview.WriteTable(g.stdout, rep); err != nil {
		return err
	}
	switch why := statusview.Unhealthy(rep, narrowed); {
	case why == "":
		return nil
	case len(rep.Hosts) == 0:
		return &exitCode{code: exitUnhealthy, err: fmt.Errorf("no hosts: %s has no records and no host is expected (--config.file, --host)", st.String())}
	default:
		return &exitCode{code: exitUnhealthy}
	}
}
