// Package exporter assembles serve from its parts: the collector's
// /metrics, the status page and host pages, /-/healthy, /-/ready and the
// nudge endpoint, each behind its limiter, and runs them with the
// background refreshes until the context ends; and textfile's file of the
// same metrics for node_exporter.
package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/heartbeat"
	"github.com/golemtrust/backupwatch/internal/httpserve"
	"github.com/golemtrust/backupwatch/internal/inflight"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/nudge"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/web"
)

// Defaults of what the exporter answers at once. A scrape of 10,000 hosts
// takes some 20 ms of CPU and a few megabytes while it is written, a page
// render some more: four scrapes keep both cores busy, so more at once
// would only take memory and CPU from the refresh, and Prometheus (one or
// two servers, an HA pair) never waits; a page reloads every minute.
const (
	DefaultMaxRequests    = 4
	DefaultMaxPageRenders = 2
)

// Options are serve's parts, built by the command from its flags.
type Options struct {
	Collector *collector.Collector
	Witness   *collector.Witness
	// Store is the records' store, named on the page: a web.Detailer gets
	// host pages, a local store is watched.
	Store fmt.Stringer
	// Switches reads the dead man's switches in the background, nil for
	// none; AlertingPath is the page's view of them.
	Switches     *heartbeat.Watcher
	AlertingPath func() []heartbeat.State
	// Extra are more collectors of the exporter's own (the spool's).
	Extra []prometheus.Collector

	Settings
	JobsLimit int // the config file's max_jobs_per_host
	Title     string
	Logger    *slog.Logger
}

// Exporter is serve: its handler and the background work behind it.
type Exporter struct {
	o       Options
	handler *http.ServeMux
	local   *localstore.Store
}

// New registers the exporter's metrics and routes its endpoints.
func New(o Options) (*Exporter, error) {
	c := o.Collector
	// The exporter's own metrics; the collector's are served beside them
	// by collector.Handler, which encodes each snapshot once.
	reg := httpserve.NewRegistry()
	reg.MustRegister(collector.WebInfo(o.ExternalURL))
	reg.MustRegister(c.NudgeMetrics()...)
	reg.MustRegister(&jobsLimitCollector{c: c, limit: o.JobsLimit})
	for _, x := range o.Extra {
		if err := reg.Register(x); err != nil {
			return nil, err
		}
	}
	reg.MustRegister(o.Witness)
	local, _ := o.Store.(*localstore.Store) // watched, and named by the empty page's hint
	metricsLimit, pageLimit := newLimiters(o)
	reg.MustRegister(metricsLimit, pageLimit)
	snapshot := func() *fleet.Snapshot { return c.State().Snapshot }
	mux := newServeMux(o.Logger, reg, c, metricsLimit, pageLimit.Wrap(web.New(web.Options{
		Snapshot:     snapshot,
		Repositories: o.Witness.Repositories,
		Store:        o.Store.String(),
		StoreDir:     storeDirOf(local),
		Reload:       min(max(o.Interval, 30*time.Second), time.Minute), // nudges change it between refreshes
		Title:        o.Title,
		Logger:       o.Logger,

		AlertingPath: o.AlertingPath,
	})))
	if d, ok := o.Store.(web.Detailer); ok { // both stores: the host pages
		mux.Handle(web.HostPath, pageLimit.Wrap(web.NewHost(web.HostOptions{
			Source:   d,
			Snapshot: snapshot,
			Title:    o.Title,
			Timeout:  RefreshTimeout(o.Interval),
			Logger:   o.Logger,
		})))
	}
	return &Exporter{o: o, handler: mux, local: local}, nil
}

// Handler routes every endpoint of the exporter.
func (e *Exporter) Handler() http.Handler { return e.handler }

// Run loads the saved snapshot, starts the refreshes and serves on the
// addresses of flags until ctx ends or the server fails.
func (e *Exporter) Run(ctx context.Context, flags *toolkitweb.FlagConfig) error {
	c, logger := e.o.Collector, e.o.Logger
	c.LoadSaved() // before listening: no scrape after a restart finds nothing

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go e.o.Witness.Run(ctx, e.o.Interval)
	if e.o.Switches != nil {
		go e.o.Switches.Run(ctx, SwitchReadEvery(e.o.Interval))
	}
	if e.local != nil { // a record shows at once, nudged or not
		go e.local.Watch(ctx, logger, func(id status.JobID) { c.Nudge("local store", id) })
	}
	err := httpserve.Run(ctx, httpserve.Options{
		Handler: e.handler,
		Flags:   flags,
		Beside:  func(ctx context.Context) { c.Run(ctx, e.o.Interval) },
		Logger:  logger,
	})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// RefreshTimeout bounds one refresh: never past the next one, and never so
// short that a slow but working store cannot answer (every request has its
// own deadline besides, --vault.timeout).
func RefreshTimeout(interval time.Duration) time.Duration {
	return max(interval, 30*time.Second)
}

// SwitchReadEvery is how often serve reads the switches: at each refresh,
// and at least once a minute, as often as the page reloads.
func SwitchReadEvery(refresh time.Duration) time.Duration {
	return min(refresh, time.Minute)
}

// newLimiters returns the limiters of /metrics and of the status page,
// separate so that people looking at the page never delay a scrape.
func newLimiters(o Options) (metrics, page *inflight.Limiter) {
	metrics = inflight.New(inflight.Options{Name: "metrics", Max: o.MaxRequests, MaxWait: o.MaxWait, Logger: o.Logger})
	page = inflight.New(inflight.Options{Name: "page", Max: o.MaxPageRenders, MaxWait: o.MaxWait, Logger: o.Logger})
	return metrics, page
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
	// Ready once the first refresh has been attempted, whether or not it
	// reached the store: store health is reported by backupwatch_store_up,
	// and an exporter that is not ready is not scraped at all.
	httpserve.Health{Healthy: "Healthy.", Ready: "Ready.", NotReady: "Not ready: first refresh in progress.", IsReady: c.Ready}.Route(mux)
	mux.Handle(nudge.Path, nudge.Handler(c.Nudge))
	mux.Handle("/", page)
	return mux
}
