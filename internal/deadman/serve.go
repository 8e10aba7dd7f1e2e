package deadman

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
)

// CheckEvery is how often silences are judged: a tenth of the timeout, so
// a silence is told at most 10% late, within a second and a minute.
func CheckEvery(timeout time.Duration) time.Duration {
	return min(max(timeout/10, 100*time.Millisecond), time.Minute)
}

// Handler routes the switch's endpoints: /heartbeat, /metrics (the
// switch's and the process's), /-/healthy and /-/ready.
func (s *Switch) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(s, versioncollector.NewCollector("backupwatch"),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/heartbeat", s)
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4})))
	for _, p := range []string{"/-/healthy", "/-/ready"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "OK") })
	}
	return mux
}

// Serve judges silences every checkEvery and serves Handler on the
// addresses of flags until ctx ends or the server fails.
func (s *Switch) Serve(ctx context.Context, flags *toolkitweb.FlagConfig, checkEvery time.Duration, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	judged := make(chan struct{})
	go func() { defer close(judged); s.Run(ctx, checkEvery) }()
	served := make(chan error, 1)
	go func() { served <- toolkitweb.ListenAndServe(srv, flags, logger) }()
	select {
	case err := <-served:
		cancel()
		<-judged
		return fmt.Errorf("deadman: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	<-judged
	return nil
}
