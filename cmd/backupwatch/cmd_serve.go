package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/inflight"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/nudge"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/web"
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

// fleetOptions are the flags that choose which hosts are exported; serve,
// textfile and check share them.
type fleetOptions struct {
	hosts      []string
	configFile string
}

func (o *fleetOptions) addFlags(c *kingpin.CmdClause) {
	c.Flag("host", "A host expected to report (repeatable): exported as unknown while it has no record; default: none. Hosts found in the store are always exported.").StringsVar(&o.hosts)
	c.Flag("config.file", "YAML config file; default: none (only --host, and the hosts found in the store). Keys: title: the page's heading; hosts: the expected hosts, each a name or {name:, a schedule, labels: {team: dba, owner: ..., any key}, page_after:, jobs: [{name:, a schedule, page_after:}]}; schedules: [{host:, job: (patterns), a schedule, labels:, page_after:}], overriding the records'; page_after: {failures: 3, or: 12h}, when a failure pages rather than warns (not set: at once); pings: where run pings a checker; retention: the policies repo-check judges; max_jobs_per_host: (100). A schedule is every: 12h, or cron: \"0 3 * * *\" with tz:, and grace:. An unknown key is an error; `backupwatch check --config.file=FILE` validates it. Reference, with an example for 40 hosts: "+configReference+".").StringVar(&o.configFile)
}

// load validates the flags and reads the config file: the expected hosts
// (flags and file together) and the file's content.
func (o *fleetOptions) load() ([]string, *config.Config, error) {
	cfg := &config.Config{}
	if o.configFile != "" {
		var err error
		if cfg, err = config.Load(o.configFile); err != nil {
			return nil, nil, usageError{err}
		}
	}
	var errs []error
	for _, h := range o.hosts {
		if err := status.ValidateHost(h); err != nil {
			errs = append(errs, fmt.Errorf("--host: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, usageError{err}
	}
	hosts := append(slices.Clone(cfg.Hosts), o.hosts...)
	slices.Sort(hosts)
	return slices.Compact(hosts), cfg, nil
}

type serveOptions struct {
	fleet       fleetOptions
	web         *toolkitweb.FlagConfig
	interval    time.Duration
	nudgeRate   float64
	externalURL string
	concurrency int
	// What the exporter answers at once; see newLimiters.
	maxRequests, maxPageRenders int
	maxWait                     time.Duration
	switches                    switchOptions
	stateDir                    string
	hostSeries                  string
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
	c.Flag("refresh.interval", "How often to read every record from the store: by default 15m, 96 reads per record a day. The safety net: record and run with --exporter.url nudge serve to read their host at once, and on a local store serve watches its directory.").Default(collector.DefaultInterval.String()).DurationVar(&o.interval)
	c.Flag("refresh.nudge-rate", "Records read again per second at most for nudges (POST /-/nudge?host=H[&job=J]; a host's nudge reads its jobs too), burst 100; by default 10, beyond which nudges wait their turn.").Default(fmt.Sprint(collector.DefaultNudgeRate)).Float64Var(&o.nudgeRate)
	c.Flag("refresh.concurrency", "Records read at once during a refresh; also the keep-alive connections kept to Vault. By default 8.").Default(fmt.Sprint(collector.DefaultWorkers)).IntVar(&o.concurrency)
	c.Flag("web.external-url", "The URL people reach the status page at (e.g. https://backupwatch.example.org/), exported as backupwatch_web_info so that alert texts link to each host's tile; default: none, alert texts carry no link to the page.").StringVar(&o.externalURL)
	c.Flag("web.max-requests", "Scrapes of /metrics answered at once; more wait their turn, up to --web.max-wait, then get 503 with Retry-After. By default 4, enough to keep two cores busy.").Default(fmt.Sprint(defaultMaxRequests)).IntVar(&o.maxRequests)
	c.Flag("web.max-page-renders", "Status pages rendered at once; more wait their turn, up to --web.max-wait, then get 503 with Retry-After. By default 2, so that pages never delay a scrape.").Default(fmt.Sprint(defaultMaxPageRenders)).IntVar(&o.maxPageRenders)
	c.Flag("web.max-wait", "How long a request beyond --web.max-requests or --web.max-page-renders waits for its turn (a Prometheus scrape at most half its scrape timeout): by default 5s, half Prometheus' default scrape timeout.").Default(inflight.DefaultMaxWait.String()).DurationVar(&o.maxWait)
	c.Flag("state.dir", "Directory where serve keeps the snapshot it exports (snapshot.json.gz, rewritten after each refresh), so that after a restart it exports it at once, marked by backupwatch_snapshot_from_disk 1 until a refresh reaches the store, rather than nothing until its first refresh ends; empty to keep none. Default: /var/lib/backupwatch/state for root, $XDG_STATE_HOME/backupwatch/state (else ~/.local/state/backupwatch/state) for other users.").Envar("BACKUPWATCH_STATE_DIR").Default(defaultStateDir()).StringVar(&o.stateDir)
	c.Flag("metrics.host-series", "Which series each host exports: all (the default, some 12 a host), or alerting, for large fleets: only what the shipped rules, Alertmanager templates, dashboard and runbook read, without "+strings.Join(collector.AlertingDropped(), ", ")+" (docs/operations.md, \"Series budget\").").Default(collector.HostSeriesAll).EnumVar(&o.hostSeries, collector.HostSeriesAll, collector.HostSeriesAlerting)
	o.fleet.addFlags(c)
	o.switches.addFlags(c)
}

// savedFile is where serve saves its snapshot, "" for nowhere: the state
// directory is made if need be, and one that cannot be is said and does
// without, as a store is more important than a quick restart.
func (o *serveOptions) savedFile(logger *slog.Logger) string {
	if o.stateDir == "" {
		return ""
	}
	if err := os.MkdirAll(o.stateDir, 0o750); err != nil {
		logger.Warn("no snapshot kept across restarts: cannot make --state.dir", "err", err)
		return ""
	}
	return filepath.Join(o.stateDir, "snapshot.json.gz")
}

// validate checks what serve's own flags say, before anything starts.
func (o *serveOptions) validate() error {
	var errs []error
	if o.interval < time.Second {
		errs = append(errs, fmt.Errorf("--refresh.interval must be at least 1s, not %v", o.interval))
	}
	if !(o.nudgeRate > 0 && o.nudgeRate <= 10000) {
		errs = append(errs, fmt.Errorf("--refresh.nudge-rate must be above 0 and at most 10000, not %v", o.nudgeRate))
	}
	if o.concurrency < 1 || o.concurrency > 256 {
		errs = append(errs, fmt.Errorf("--refresh.concurrency must be between 1 and 256, not %d", o.concurrency))
	}
	if err := validateExternalURL(o.externalURL); err != nil {
		errs = append(errs, fmt.Errorf("--web.external-url: %w", err))
	}
	if o.maxRequests < 1 || o.maxRequests > 1024 {
		errs = append(errs, fmt.Errorf("--web.max-requests must be between 1 and 1024, not %d", o.maxRequests))
	}
	if o.maxPageRenders < 1 || o.maxPageRenders > 1024 {
		errs = append(errs, fmt.Errorf("--web.max-page-renders must be between 1 and 1024, not %d", o.maxPageRenders))
	}
	if o.maxWait <= 0 || o.maxWait > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--web.max-wait must be above 0s and at most 10m, not %v", o.maxWait))
	}
	if _, err := o.switches.readers(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	return nil
}

// Defaults of what the exporter answers at once. A scrape of 10,000 hosts
// takes some 20 ms of CPU and a few megabytes while it is written, a page
// render some more: four scrapes keep both cores busy, so more at once
// would only take memory and CPU from the refresh, and Prometheus (one or
// two servers, an HA pair) never waits; a page reloads every minute.
const (
	defaultMaxRequests    = 4
	defaultMaxPageRenders = 2
)

// newLimiters returns the limiters of /metrics and of the status page,
// separate so that people looking at the page never delay a scrape.
func newLimiters(o *serveOptions, logger *slog.Logger) (metrics, page *inflight.Limiter) {
	metrics = inflight.New(inflight.Options{Name: "metrics", Max: o.maxRequests, MaxWait: o.maxWait, Logger: logger})
	page = inflight.New(inflight.Options{Name: "page", Max: o.maxPageRenders, MaxWait: o.maxWait, Logger: logger})
	return metrics, page
}

// refreshTimeout bounds one refresh: never past the next one, and never so
// short that a slow but working store cannot answer (every request has its
// own deadline besides, --vault.timeout).
func refreshTimeout(interval time.Duration) time.Duration {
	return max(interval, 30*time.Second)
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
	st, err := g.store.openRead(g, o.concurrency)
	if err != nil {
		return err
	}
	c := collector.New(collector.Options{
		Source:   st,
		Expected: hosts,
		Jobs:     cfg.Jobs,
		Schedule: cfg,
		Labels:   cfg,
		Workers:  o.concurrency,
		Timeout:  refreshTimeout(o.interval),
		Logger:   g.logger,

		NudgeRate:  o.nudgeRate,
		SavedFile:  o.savedFile(g.logger),
		HostSeries: o.hostSeries,
		StoreName:  st.String(),
		Escalation: cfg,
	})
	// The exporter's own metrics; the collector's are served beside them
	// by collector.Handler, which encodes each snapshot once.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("backupwatch"),
		collector.WebInfo(o.externalURL),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(c.NudgeMetrics()...)
	reg.MustRegister(&jobsLimitCollector{c: c, limit: cfg.JobsLimit()})
	if err := registerSpoolMetrics(reg, g, st); err != nil {
		return err
	}
	witness, err := newWitness(g, refreshTimeout(o.interval))
	if err != nil {
		return err
	}
	reg.MustRegister(witness)
	local, _ := st.(*localstore.Store) // watched, and named by the empty page's hint
	switches, alertingPath, err := o.switches.watcher(g.logger)
	if err != nil {
		return err
	}
	metricsLimit, pageLimit := newLimiters(o, g.logger)
	reg.MustRegister(metricsLimit, pageLimit)
	handler := newServeMux(g.logger, reg, c, metricsLimit, pageLimit.Wrap(web.New(web.Options{
		Snapshot:     func() *fleet.Snapshot { return c.State().Snapshot },
		Repositories: witness.Repositories,
		Store:        st.String(),
		StoreDir:     storeDirOf(local),
		Reload:       min(max(o.interval, 30*time.Second), time.Minute), // nudges change it between refreshes
		Title:        cfg.Title,
		Logger:       g.logger,

		AlertingPath: alertingPath,
	})))

	if d, ok := st.(web.Detailer); ok { // both stores: the host pages
		handler.Handle(web.HostPath, pageLimit.Wrap(web.NewHost(web.HostOptions{
			Source:   d,
			Snapshot: func() *fleet.Snapshot { return c.State().Snapshot },
			Title:    cfg.Title,
			Timeout:  refreshTimeout(o.interval),
			Logger:   g.logger,
		})))
	}

	g.logger.Info("starting backupwatch", "store", st.String(), "expected_hosts", len(hosts),
		"refresh_interval", o.interval, "refresh_concurrency", o.concurrency)
	c.LoadSaved() // before listening: no scrape after a restart finds nothing

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	refreshed := make(chan struct{})
	go func() {
		defer close(refreshed)
		c.Run(ctx, o.interval)
	}()
	go witness.Run(ctx, o.interval)
	if switches != nil {
		go switches.Run(ctx, switchReadEvery(o.interval))
	}
	if local != nil { // a record shows at once, nudged or not
		go local.Watch(ctx, g.logger, func(id status.JobID) { c.Nudge("local store", id) })
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(g.logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- toolkitweb.ListenAndServe(srv, o.web, g.logger) }()

	select {
	case err = <-served:
		cancel()
		<-refreshed
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	g.logger.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		g.logger.Warn("shutdown", "err", err)
	}
	<-refreshed
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// storeDirOf is the local store's directory, "" for none.
func storeDirOf(s *localstore.Store) string {
	if s == nil {
		return ""
	}
	return s.Dir()
}

// newServeMux routes the exporter's endpoints. Scrapes are bounded by
// limit inside the instrumentation, so a refused one counts as a 503 in
// promhttp_metric_handler_requests_total, as with promhttp's own limit.
func newServeMux(logger *slog.Logger, reg *prometheus.Registry, c *collector.Collector, limit *inflight.Limiter, page http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(reg, limit.Wrap(collector.NewHandler(c, reg, logger))))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Healthy.")
	})
	// Ready once the first refresh has been attempted, whether or not it
	// reached the store: store health is reported by backupwatch_store_up,
	// and an exporter that is not ready is not scraped at all.
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !c.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "Not ready: first refresh in progress.")
			return
		}
		fmt.Fprintln(w, "Ready.")
	})
	mux.Handle(nudge.Path, nudge.Handler(c.Nudge))
	mux.Handle("/", page)
	return mux
}

// validateExternalURL accepts "" or an absolute http(s) URL without
// credentials, query or fragment: it is put in a label and in every alert
// text, so it must be a plain link and never carry a secret.
func validateExternalURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL: %q", status.Truncate(s, 80))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("want an absolute http:// or https:// URL, not %q", status.Truncate(s, 80))
	case u.User != nil:
		return errors.New("must not hold a user name or password: it is shown in every alert")
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return fmt.Errorf("must not have a query or fragment: %q", status.Truncate(s, 80))
	case len(s) > 512:
		return fmt.Errorf("longer than 512 bytes")
	}
	return nil
}
