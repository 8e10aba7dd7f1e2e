package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/spool"
)

type flushOptions struct {
	attempts int
	backoff  time.Duration
	list     bool
	discard  string
	// discardSet: --discard was given, perhaps empty (then a usage
	// error, never a full flush).
	discardSet bool
}

func addFlushCommand(app *kingpin.Application, g *globals) command {
	o := &flushOptions{}
	c := app.Command("flush", "Deliver the results waiting in the spool to the store, oldest first per host; exits 1 while some still wait or were refused.")
	c.Flag("attempts", "Tries per result before giving up until the next flush; by default 5.").Default("5").IntVar(&o.attempts)
	c.Flag("backoff", "Wait before the second try, doubled after each: by default 2s, so 5 tries span about 30s.").Default("2s").DurationVar(&o.backoff)
	c.Flag("list", "List what waits in the spool (and what the store refused for good), deliver nothing.").BoolVar(&o.list)
	c.Flag("discard", "Drop the spooled result with this ID (from --list): it will never reach the store. Default: none, every spooled result is delivered.").PlaceHolder("ID").IsSetByUser(&o.discardSet).StringVar(&o.discard)
	return command{c, func(ctx context.Context) error { return runFlush(ctx, g, o) }}
}

func runFlush(ctx context.Context, g *globals, o *flushOptions) error {
	if o.attempts < 1 {
		return usageError{errors.New("--attempts must be at least 1")}
	}
	if o.backoff < 0 {
		return usageError{errors.New("--backoff must not be negative")}
	}
	o.discardSet = o.discardSet || o.discard != "" // options made in code, not by flags
	if o.list && o.discardSet {
		return usageError{errors.New("--list and --discard do not go together")}
	}
	if o.discardSet && o.discard == "" {
		return usageError{errors.New("--discard needs the ID of a spooled result (flush --list shows them)")}
	}
	if g.spool.dir == "" {
		return usageError{errors.New("--spool.dir must name the spool directory")}
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	d, err := newDeliverer(g, st)
	if err != nil {
		return err
	}
	sp := d.Spool()
	if sp == nil {
		g.logger.Info("nothing to flush: only results for Vault are spooled", "store", st.String())
		return nil
	}
	for dir, n := range d.OtherSpools(g.spool.dir) {
		g.logger.Warn("results wait for another store: flush with that store's flags", "spool", dir, "count", n)
	}
	switch {
	case o.list:
		ws, err := d.List()
		if err != nil {
			return err
		}
		return deliver.WriteList(g.stdout, ws, time.Now())
	case o.discardSet:
		it, err := d.Discard(ctx, o.discard)
		if errors.Is(err, spool.ErrNoEntry) {
			return usageError{fmt.Errorf("--discard: %w (see flush --list)", err)}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "discarded %s: %s %s\n", it.ID(), it.Entry, deliver.Summary(it.Entry))
		return nil
	}
	if n, _, _ := sp.Waiting(); n == 0 {
		g.logger.Info("spool empty", "spool", sp.Dir())
		return nil
	}
	fr, err := d.Flush(ctx, spool.Retry{Attempts: o.attempts, Backoff: o.backoff})
	if err != nil {
		return err
	}
	if err := deliver.FlushError(fr, sp.Dir()); err != nil {
		return err
	}
	g.logger.Info("spool flushed", "delivered", len(fr.Delivered), "set_aside", len(fr.Problems), "store", st.String())
	return nil
}
