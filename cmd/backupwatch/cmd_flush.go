package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// spoolOptions say where results wait when the store cannot take them.
type spoolOptions struct {
	dir string
	// retry is how hard `record` and `run` try to write a result before
	// spooling it; zero means defaultRetry.
	retry spool.Retry
}

// defaultRetry is short: a backup job should not hang on a Vault that is
// down, the spool keeps the result and the next run delivers it.
var defaultRetry = spool.Retry{Attempts: 3, Backoff: time.Second}

func (o *spoolOptions) addFlags(app *kingpin.Application) {
	app.Flag("spool.dir", "Directory where results wait, one file each, when the store cannot take them; delivered by the next record, run or flush. Default: /var/spool/backupwatch for root, $XDG_STATE_HOME/backupwatch/spool (else ~/.local/state/backupwatch/spool) for other users.").
		Envar("BACKUPWATCH_SPOOL_DIR").Default(defaultSpoolDir()).StringVar(&o.dir)
}

func (o *spoolOptions) retryPolicy() spool.Retry {
	if o.retry.Attempts > 0 {
		return o.retry
	}
	return defaultRetry
}

// storeSpoolDir is the spool of the store st under --spool.dir, or "" for
// none: only Vault has a spool, the local store is on the same disk as a
// spool would be.
func storeSpoolDir(g *globals, st fmt.Stringer) string {
	if g.spool.dir == "" || !g.store.usesVault() {
		return ""
	}
	return deliver.SpoolDir(g.spool.dir, st.String())
}

// newDeliverer delivers to st through its spool.
func newDeliverer(g *globals, st recordStore) (*deliver.Deliverer, error) {
	o := deliver.Options{Store: st, SpoolDir: storeSpoolDir(g, st), Logger: g.logger, MaxJobsPerHost: g.store.maxJobs}
	if g.spool.dir != "" && g.store.usesVault() {
		o.JobsDir = deliver.JobsDir(g.spool.dir, st.String())
	}
	if g.nudges == nil {
		s, err := g.store.nudgeSender(g.logger)
		if err != nil {
			return nil, err
		}
		g.nudges = s
	}
	if g.nudges != nil {
		o.Written = func(e spool.Entry) { g.nudges.Send(nudgeTarget(e)) }
	}
	return deliver.New(o)
}

// spoolMetrics are the metrics of the spool of st on this host, for
// serve; none without a spool.
func spoolMetrics(g *globals, st fmt.Stringer) ([]prometheus.Collector, error) {
	dir := storeSpoolDir(g, st)
	if dir == "" {
		return nil, nil
	}
	c, err := deliver.NewCollector(dir)
	if err != nil {
		return nil, err
	}
	return []prometheus.Collector{c}, nil
}

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
	c.Flag("discard", "Drop the spooled result with this ID (from --list): it will never reach the store.").PlaceHolder("ID").IsSetByUser(&o.discardSet).StringVar(&o.discard)
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
		return listSpool(g, d)
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
	switch {
	case fr.Remaining > 0 || fr.Err != nil:
		return fmt.Errorf("%d results still waiting in %s: %w", fr.Remaining, sp.Dir(), fr.Err)
	case len(fr.Rejected) > 0:
		return fmt.Errorf("%d results refused for good by the store, set aside in %s (flush --list shows them, --discard drops them): %w",
			len(fr.Rejected), filepath.Join(sp.Dir(), "rejected"), fr.Rejected[0].Err)
	}
	g.logger.Info("spool flushed", "delivered", len(fr.Delivered), "set_aside", len(fr.Problems), "store", st.String())
	return nil
}

// listSpool prints what waits, one entry a line.
func listSpool(g *globals, d *deliver.Deliverer) error {
	ws, err := d.List()
	if err != nil {
		return err
	}
	now := time.Now()
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tHOST\tOUTCOME\tAT\tSPOOLED_AT\tAGE\tSUMMARY")
	for _, w := range ws {
		it := w.Item
		state := "waiting"
		if w.Rejected {
			state = "rejected"
		}
		host := it.Entry.Key()
		if it.Entry.RestoreTest != nil {
			host = "-"
		}
		spooled, age := "-", "-"
		if !it.SpooledAt.IsZero() {
			spooled, age = status.FormatTime(it.SpooledAt), now.Sub(it.SpooledAt).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID(), state, it.Entry.Kind(), host, deliver.Outcome(it.Entry),
			status.FormatTime(it.Entry.At()), spooled, age, deliver.Summary(it.Entry))
	}
	return tw.Flush()
}
