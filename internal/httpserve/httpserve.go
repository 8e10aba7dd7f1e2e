// Package httpserve is what backupwatch's servers (serve's exporter and
// the dead man's switch) share: the registry of the process's own
// metrics, the health endpoints, and a server on exporter-toolkit's flags
// (TLS, basic auth, systemd's sockets) that ends with its context.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
)

// NewRegistry is a registry with the process's own metrics: backupwatch's
// build (backupwatch_build_info), Go's runtime and the process's.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("backupwatch"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// Health is what a server answers at /-/healthy and /-/ready.
type Health struct {
	Healthy, Ready string
	// NotReady is /-/ready's answer (503) while IsReady says false; nil
	// IsReady: ready from the start.
	NotReady string
	IsReady  func() bool
}

// Route adds /-/healthy and /-/ready to mux.
func (h Health) Route(mux *http.ServeMux) {
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, h.Healthy)
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if h.IsReady != nil && !h.IsReady() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, h.NotReady)
			return
		}
		fmt.Fprintln(w, h.Ready)
	})
}

// Options are a server's.
type Options struct {
	Handler http.Handler
	Flags   *toolkitweb.FlagConfig // the addresses, and the web config file
	// What one request may take, zero for no bound. A request's headers
	// always have 10 seconds (against slow clients holding connections).
	ReadTimeout, WriteTimeout time.Duration
	MaxHeaderBytes            int
	// Beside is the work that runs beside the server (the refreshes, the
	// judging of silences), from before it listens until after it
	// stopped; nil for none. It ends with its context, and Run waits for
	// it.
	Beside func(ctx context.Context)
	Logger *slog.Logger
}

// Run serves until ctx ends, then shuts the server down, giving requests
// under way 5 seconds, and returns nil; or until the server fails, and
// returns why (an address taken, a bad web config file). The server's
// own errors (a client's bad TLS handshake) are logged as warnings.
func Run(ctx context.Context, o Options) error {
	srv := &http.Server{
		Handler:           o.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	beside := make(chan struct{})
	go func() {
		defer close(beside)
		if o.Beside != nil {
			o.Beside(ctx)
		}
	}()
	served := make(chan error, 1)
	go func() { served <- toolkitweb.ListenAndServe(srv, o.Flags, o.Logger) }()

	select {
	case err := <-served:
		cancel()
		<-beside
		return err
	case <-ctx.Done():
	}
	o.Logger.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		o.Logger.Warn("shutdown", "err", err)
	}
	<-beside
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
