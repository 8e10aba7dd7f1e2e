package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/golemtrust/backupwatch/internal/collector"
	// exp, as the tests have a type exporter (a serve they run).
	exp "github.com/golemtrust/backupwatch/internal/exporter"
	"github.com/golemtrust/backupwatch/internal/inflight"
)

// defaultListenAddress is where `serve` listens unless told otherwise.
//
// Prometheus exporters take their default port from the project's wiki of
// default port allocations, so that exporters sharing a machine never
// collide. Its 9100-9999 range is fully allocated, so there is no free slot
// left there to claim; 10036 is just above it, is not in /etc/services or
// the IANA registry's well-known uses (Webmin 10000, Zabbix 10050/10051,
// Amanda 10080-10083 are its neighbours), and is below Linux's ephemeral
// range, so an outgoing connection never holds it. Register it on the wiki
// before a public release.
const defaultListenAddress = ":10036"

type serveOptions struct {
	fleet      fleetOptions
	web        *toolkitweb.FlagConfig
	settings   exp.Settings
	switches   switchOptions
	stateDir   string
	hostSeries string
}

func addServeCommand(app *kingpin.Application, g *globals) command {
	o := &serveOptions{}
	c := app.Command("serve", "Run the exporter: /metrics for Prometheus, a status page at /, /-/healthy and /-/ready.")
	o.addFlags(c)
	return command{c, func(ctx context.Context) error { return runServe(ctx, g, o) }}
}

// addFlags defines serve's flags; `check` takes the same, so that the
// serve line can be checked as it is.
func (o *serveOptions) addFlags(c *kingpin.CmdClause) {
	o.web = kingpinflag.AddFlags(c, defaultListenAddress)
	c.GetFlag("web.listen-address").Help("Addresses to serve /metrics, the status page, /-/healthy, /-/ready and /-/nudge on (repeatable), e.g. :10036 or [::1]:10036. The default, :10036, is port 10036 on every address.")
	c.GetFlag("web.config.file").Help("exporter-toolkit web config file enabling TLS or basic authentication (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md); default: none, plain HTTP without authentication.")
	c.Flag("refresh.interval", "How often to read every record from the store: by default 15m, 96 reads per record a day. The safety net: record and run with --exporter.url nudge serve to read their host at once, and on a local store serve watches its directory.").Default(collector.DefaultInterval.String()).DurationVar(&o.settings.Interval)
	c.Flag("refresh.nudge-rate", "Records read again per second at most for nudges (POST /-/nudge?host=H[&job=J]; a host's nudge reads its jobs too), burst 100; by default 10, beyond which nudges wait their turn.").Default(fmt.Sprint(collector.DefaultNudgeRate)).Float64Var(&o.settings.NudgeRate)
	c.Flag("refresh.concurrency", "Records read at once during a refresh; also the keep-alive connections kept to Vault. By default 8.").Default(fmt.Sprint(collector.DefaultWorkers)).IntVar(&o.settings.Concurrency)
	c.Flag("web.external-url", "The URL people reach the status page at (e.g. https://backupwatch.example.org/), exported as backupwatch_web_info so that alert texts link to each host's tile; default: none, alert texts carry no link to the page.").StringVar(&o.settings.ExternalURL)
	c.Flag("web.max-requests", "Scrapes of /metrics answered at once; more wait their turn, up to --web.max-wait, then get 503 with Retry-After. By default 4, enough to keep two cores busy.").Default(fmt.Sprint(exp.DefaultMaxRequests)).IntVar(&o.settings.MaxRequests)
	c.Flag("web.max-page-renders", "Status pages rendered at once; more wait their turn, up to --web.max-wait, then get 503 with Retry-After. By default 2, so that pages never delay a scrape.").Default(fmt.Sprint(exp.DefaultMaxPageRenders)).IntVar(&o.settings.MaxPageRenders)
	c.Flag("web.max-wait", "How long a request beyond --web.max-requests or --web.max-page-renders waits for its turn (a Prometheus scrape at most half its scrape timeout): by default 5s, half Prometheus' default scrape timeout.").Default(inflight.DefaultMaxWait.String()).DurationVar(&o.settings.MaxWait)
	c.Flag("state.dir", "Directory where serve keeps the snapshot it exports (snapshot.json.gz, rewritten after each refresh), so that after a restart it exports it at once, marked by backupwatch_snapshot_from_disk 1 until a refresh reaches the store, rather than nothing until its first refresh ends; empty to keep none. Default: /var/lib/backupwatch/state for root, $XDG_STATE_HOME/backupwatch/state (else ~/.local/state/backupwatch/state) for other users.").Envar("BACKUPWATCH_STATE_DIR").Default(defaultStateDir()).StringVar(&o.stateDir)
	c.Flag("metrics.host-series", "Which series each host exports: all (the default, some 12 a host), or alerting, for large fleets: only what the shipped rules, Alertmanager templates, dashboard and runbook read, without "+strings.Join(collector.AlertingDropped(), ", ")+" (docs/operations.md, \"Series budget\").").Default(collector.HostSeriesAll).EnumVar(&o.hostSeries, collector.HostSeriesAll, collector.HostSeriesAlerting)
	o.fleet.addFlags(c)
	o.switches.addFlags(c)
}

// validate checks what serve's own flags say, before anything starts.
func (o *serveOptions) validate() error {
	err := o.settings.Validate()
	if _, serr := o.switches.readers(); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

func runServe(ctx context.Context, g *globals, o *serveOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	hosts, cfg, err := o.fleet.load()
	if err != nil {
		return err
	}
	if o.web.WebConfigFile != nil && *o.web.WebConfigFile != "" {
		if err := toolkitweb.Validate(*o.web.WebConfigFile); err != nil {
			return usageError{fmt.Errorf("--web.config.file: %w", err)}
		}
	}
	set := o.settings
	st, err := g.store.openRead(g, set.Concurrency)
	if err != nil {
		return err
	}
	c := collector.New(collector.Options{
		Source:   st,
		Expected: hosts,
		Jobs:     cfg.Jobs,
		Schedule: cfg,
		Labels:   cfg,
		Workers:  set.Concurrency,
		Timeout:  exp.RefreshTimeout(set.Interval),
		Logger:   g.logger,

		NudgeRate:  set.NudgeRate,
		SavedFile:  exp.SnapshotFile(o.stateDir, g.logger),
		HostSeries: o.hostSeries,
		StoreName:  st.String(),
		Escalation: cfg,
	})
	spooled, err := spoolMetrics(g, st)
	if err != nil {
		return err
	}
	witness, err := newWitness(g, exp.RefreshTimeout(set.Interval))
	if err != nil {
		return err
	}
	switches, alertingPath, err := o.switches.watcher(g.logger)
	if err != nil {
		return err
	}
	e, err := exp.New(exp.Options{
		Collector:    c,
		Witness:      witness,
		Store:        st,
		Switches:     switches,
		AlertingPath: alertingPath,
		Extra:        spooled,
		Settings:     set,
		JobsLimit:    cfg.JobsLimit(),
		Title:        cfg.Title,
		Logger:       g.logger,
	})
	if err != nil {
		return err
	}
	g.logger.Info("starting backupwatch", "store", st.String(), "expected_hosts", len(hosts),
		"refresh_interval", set.Interval, "refresh_concurrency", set.Concurrency)
	return e.Run(ctx, o.web)
}
