package deadman

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/golemtrust/backupwatch/internal/httpserve"
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
	reg := httpserve.NewRegistry()
	reg.MustRegister(s)
	mux := http.NewServeMux()
	mux.Handle("/heartbeat", s)
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4})))
	httpserve.Health{Healthy: "OK", Ready: "OK"}.Route(mux)
	return mux
}

// Serve judges silences every checkEvery and serves Handler on the
// addresses of flags until ctx ends or the server fails. A request has
// 30 seconds and 16 KiB of headers: a heartbeat is small, and the switch
// is reachable from wherever an Alertmanager is.
func (s *Switch) Serve(ctx context.Context, flags *toolkitweb.FlagConfig, checkEvery time.Duration, logger *slog.Logger) error {
	err := httpserve.Run(ctx, httpserve.Options{
		Handler:        s.Handler(),
		Flags:          flags,
		ReadTimeout:    30 * time.Second,
		WriteTimeout:   30 * time.Second,
		MaxHeaderBytes: 16 << 10,
		Beside:         func(ctx context.Context) { s.Run(ctx, checkEvery) },
		Logger:         logger,
	})
	if err != nil {
		return fmt.Errorf("deadman: %w", err)
	}
	return nil
}
