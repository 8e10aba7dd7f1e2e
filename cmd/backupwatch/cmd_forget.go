package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/alecthomas/kingpin/v2"
)

func addForgetCommand(app *kingpin.Application, g *globals) command {
	var host string
	c := app.Command("forget", "Remove a decommissioned host's record (on KV v2, every version and its metadata), so it stops alerting; exits 1 when the store has no record of the host.")
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
	st, err := g.store.openRead(g, 1)
	if err != nil {
		return err
	}
	// A name the store does not list is a typo or a host already gone:
	// saying "forgotten" would hide that the real one still alerts. A token
	// that may delete but not list cannot tell; it deletes as asked.
	if keys, err := st.List(ctx); err == nil && !slices.Contains(keys, h) {
		return fmt.Errorf("no record of host %s in %s: nothing to forget (`backupwatch status` lists the hosts)", h, st.String())
	} else if err != nil {
		g.logger.Debug("could not list the hosts: deleting without knowing whether the host has a record", "err", err)
	}
	if err := st.Delete(ctx, h); err != nil {
		return err
	}
	g.logger.Info("host forgotten", "host", h, "store", st.String())
	return nil
}
