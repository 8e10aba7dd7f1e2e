package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/heartbeat"
)

// switchOptions say which dead man's switches serve and status read, to
// show the alerting path's state.
type switchOptions struct {
	urls   []string
	caFile string
}

func (o *switchOptions) addFlags(c *kingpin.CmdClause) {
	c.Flag("deadman.url", "backupwatch deadman's URL (repeatable), e.g. http://deadman.example.org:10037: its /metrics is read to show whose heartbeats arrive. With USER:PASSWORD@ in it when its --web.config.file asks for basic auth (never shown; the environment variable keeps it out of the process list). Default: none, the alerting path is not shown.").PlaceHolder("URL").Envar("BACKUPWATCH_DEADMAN_URL").StringsVar(&o.urls)
	c.Flag("deadman.ca-file", "PEM file of the CA that signed deadman's TLS certificate, for an https --deadman.url from a private CA; default: the system's CAs.").PlaceHolder("FILE").StringVar(&o.caFile)
}

// readers checks the flags and returns a reader per switch.
func (o *switchOptions) readers() ([]*heartbeat.Reader, error) {
	var rs []*heartbeat.Reader
	var errs []error
	var roots *x509.CertPool
	if o.caFile != "" {
		var err error
		if roots, err = heartbeat.LoadCA(o.caFile); err != nil {
			errs = append(errs, fmt.Errorf("--deadman.ca-file: %w", err))
		}
	}
	for _, u := range o.urls {
		r, err := heartbeat.NewReader(u, roots)
		if err != nil {
			errs = append(errs, fmt.Errorf("--deadman.url: %w", err))
			continue
		}
		rs = append(rs, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, usageError{err}
	}
	return rs, nil
}

// readSwitches reads every switch at once, each within heartbeat.Timeout.
func readSwitches(ctx context.Context, rs []*heartbeat.Reader) []heartbeat.State {
	states := make([]heartbeat.State, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { states[i] = r.Read(ctx) })
	}
	wg.Wait()
	return states
}

// watcher returns the background reader of the switches and the page's
// view of them; nil and nil without --deadman.url.
func (o *switchOptions) watcher(logger *slog.Logger) (*heartbeat.Watcher, func() []heartbeat.State, error) {
	rs, err := o.readers()
	if err != nil || len(rs) == 0 {
		return nil, nil, err
	}
	w := heartbeat.NewWatcher(rs, logger)
	return w, w.States, nil
}
