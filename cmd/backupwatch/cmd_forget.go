package main

import (
	"context"
	"errors"

	"github.com/alecthomas/kingpin/v2"
)

func addForgetCommand(app *kingpin.Application, g *globals) command {
	var host string
	c := app.Command("forget", "Remove a decommissioned host's record (on KV v2, every version and its metadata), so it stops alerting.")
	c.Flag("host", "Host to forget.").Required().StringVar(&host)
	return command{c, func(ctx context.Context) error { return runForget(ctx, g, host) }}
}

func runForget(ctx context.Context, g *globals, host string) error {
	if host == "" {
		return usageError{errors.New("--host must name the host to forget")}
	}
	h, err := resolveHost(host, true)
	if err != nil {
		return err
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	if err := st.Delete(ctx, h); err != nil {
		return err
	}
	g.logger.Info("host forgotten", "host", h, "store", st.String())
	return nil
}
