package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alecthomas/kingpin/v2"

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
	app.Flag("spool.dir", "Directory where results wait, one file each, when the store cannot take them; delivered by the next record, run or flush.").
		Envar("BACKUPWATCH_SPOOL_DIR").Default(defaultSpoolDir()).StringVar(&o.dir)
}

// defaultSpoolDir mirrors defaultStoreDir: /var/spool for root, the XDG
// state directory otherwise.
func defaultSpoolDir() string {
	if os.Geteuid() == 0 {
		return "/var/spool/backupwatch"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "backupwatch", "spool")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "backupwatch", "spool")
	}
	return "backupwatch-spool"
}

func (o *spoolOptions) retryPolicy() spool.Retry {
	if o.retry.Attempts > 0 {
		return o.retry
	}
	return defaultRetry
}

// writeEntry writes one result to the store, merging it monotonically.
func writeEntry(ctx context.Context, st recordStore, e spool.Entry) error {
	switch {
	case e.Result != nil:
		res := *e.Result
		return st.Update(ctx, res.Host, func(old map[string]any) (map[string]any, bool, error) {
			doc, changed := status.Apply(old, res)
			return doc, changed, nil
		})
	case e.RestoreTest != nil:
		return writeRestoreTest(ctx, st, *e.RestoreTest)
	}
	return errors.New("empty spool entry")
}

// deliverEntry writes e to the store after whatever waits in the spool, so
// that results arrive in the order they were produced. When the store
// cannot take it (unreachable, sealed, a token problem), e is kept in the
// spool and spooled is true; the error is only for a result that could
// neither be written nor kept.
func deliverEntry(ctx context.Context, g *globals, st recordStore, e spool.Entry, r spool.Retry) (spooled bool, err error) {
	write := func(ctx context.Context, e spool.Entry) error { return writeEntry(ctx, st, e) }
	direct := func() error {
		return r.Try(ctx, func(ctx context.Context) error { return write(ctx, e) })
	}
	if g.spool.dir == "" {
		return false, direct()
	}
	sp, err := spool.Open(g.spool.dir)
	if err != nil {
		g.logger.Warn("spool unusable: writing without it", "err", err)
		if werr := direct(); werr != nil {
			return false, fmt.Errorf("%w; and the result could not be spooled: %v", werr, err)
		}
		return false, nil
	}
	var storeErr error
	lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	unlock, lerr := sp.Lock(lctx)
	cancel()
	if lerr != nil {
		// Another process is delivering (or the lock is broken): leave
		// this one to it, behind what it is delivering.
		storeErr = lerr
	} else {
		defer unlock()
		fr := sp.Flush(ctx, r, write)
		logFlush(g, sp, st, fr)
		if fr.Remaining == 0 && fr.Err == nil {
			if storeErr = direct(); storeErr == nil {
				return false, nil
			}
		} else {
			storeErr = fr.Err
		}
	}
	name, serr := sp.Add(e)
	if serr != nil {
		return false, fmt.Errorf("%s: could not write it (%v) nor keep it: %w", e, storeErr, serr)
	}
	g.logger.Warn("store unavailable: result kept in the spool for later delivery", "result", e.String(), "file", filepath.Join(sp.Dir(), name), "err", storeErr)
	return true, nil
}

func logFlush(g *globals, sp *spool.Spool, st recordStore, fr spool.FlushResult) {
	for _, p := range fr.Problems {
		g.logger.Error("corrupt spool file set aside", "spool", sp.Dir(), "err", p)
	}
	if n := len(fr.Delivered); n > 0 {
		g.logger.Info("spooled results delivered", "count", n, "store", st.String())
	}
	if fr.Remaining > 0 {
		g.logger.Warn("spooled results still waiting", "count", fr.Remaining, "spool", sp.Dir(), "err", fr.Err)
	}
}

type flushOptions struct {
	attempts int
	backoff  time.Duration
}

func addFlushCommand(app *kingpin.Application, g *globals) command {
	o := &flushOptions{}
	c := app.Command("flush", "Deliver the results waiting in the spool to the store, oldest first; exits 1 while some still wait.")
	c.Flag("attempts", "Tries per result before giving up until the next flush.").Default("5").IntVar(&o.attempts)
	c.Flag("backoff", "Wait before the second try, doubled after each.").Default("2s").DurationVar(&o.backoff)
	return command{c, func(ctx context.Context) error { return runFlush(ctx, g, o) }}
}

func runFlush(ctx context.Context, g *globals, o *flushOptions) error {
	if o.attempts < 1 {
		return usageError{errors.New("--attempts must be at least 1")}
	}
	if o.backoff < 0 {
		return usageError{errors.New("--backoff must not be negative")}
	}
	if g.spool.dir == "" {
		return usageError{errors.New("--spool.dir must name the spool directory")}
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	sp, err := spool.Open(g.spool.dir)
	if err != nil {
		return err
	}
	unlock, err := sp.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	fr := sp.Flush(ctx, spool.Retry{Attempts: o.attempts, Backoff: o.backoff}, func(ctx context.Context, e spool.Entry) error {
		return writeEntry(ctx, st, e)
	})
	logFlush(g, sp, st, fr)
	if fr.Remaining > 0 || fr.Err != nil {
		return fmt.Errorf("%d results still waiting in %s: %w", fr.Remaining, sp.Dir(), fr.Err)
	}
	g.logger.Info("spool flushed", "delivered", len(fr.Delivered), "set_aside", len(fr.Problems), "store", st.String())
	return nil
}
