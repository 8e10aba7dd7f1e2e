package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
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

// delivery says where a result went.
type delivery struct {
	spooled  string // the spool file holding it, when the store could not take it
	storeErr error  // why the store could not take it
}

// spoolErr is the one-line error of a result kept in the spool.
func (d delivery) spoolErr() error {
	return fmt.Errorf("%w; the result is kept in %s and will be delivered by the next record, run or flush", d.storeErr, d.spooled)
}

// storeSpool is the spool of the store st: each store has its own folder
// under --spool.dir, so that a result is only ever delivered to the store
// it was meant for, whatever the flags of a later command. Only Vault has
// a spool: the local store is on the same disk as a spool would be.
func storeSpool(g *globals, st recordStore) (*spool.Spool, bool, error) {
	if g.spool.dir == "" || !g.store.usesVault() {
		return nil, false, nil
	}
	sp, err := spool.Open(filepath.Join(g.spool.dir, spoolName(st.String())))
	return sp, err == nil, err
}

// spoolName is a folder name for a store, readable and unique.
func spoolName(store string) string {
	sum := sha256.Sum256([]byte(store))
	var b strings.Builder
	for _, c := range store {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 80 {
		name = name[:80]
	}
	return name + "-" + hex.EncodeToString(sum[:4])
}

// storeRetry retries only what may pass: a store that is down or sealed,
// not a refusal.
func storeRetry(r spool.Retry) spool.Retry {
	if r.Retryable == nil {
		r.Retryable = func(err error) bool {
			var ve *vaultkv.Error
			return !errors.As(err, &ve) || vaultkv.IsUnavailable(err)
		}
	}
	return r
}

// deliverEntry writes e to the store after whatever waits in the spool, so
// that results arrive in the order they were produced. When the store
// cannot take it (unreachable, sealed, a token problem), e is kept in the
// spool and the delivery says where; the error is only for a result that
// could neither be written nor kept.
func deliverEntry(ctx context.Context, g *globals, st recordStore, e spool.Entry, r spool.Retry) (delivery, error) {
	r = storeRetry(r)
	write := func(ctx context.Context, e spool.Entry) error { return writeEntry(ctx, st, e) }
	direct := func() error {
		return r.Try(ctx, func(ctx context.Context) error { return write(ctx, e) })
	}
	sp, ok, err := storeSpool(g, st)
	if err != nil {
		g.logger.Warn("spool unusable: writing without it", "err", err)
	}
	if !ok {
		return delivery{}, direct()
	}
	var storeErr error
	if !sp.Exists() {
		// Nothing waits: the common case costs no lock and no file.
		if storeErr = direct(); storeErr == nil {
			return delivery{}, nil
		}
	} else {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		unlock, lerr := sp.Lock(lctx)
		cancel()
		switch {
		case lerr != nil && (errors.Is(lerr, context.DeadlineExceeded) || errors.Is(lerr, context.Canceled)):
			// Another process is delivering: queue behind what it delivers.
			storeErr = lerr
		case lerr != nil:
			// The spool is unusable (its mode, its owner): the store may
			// still take the result, which must not be lost for that.
			g.logger.Error("spool unusable: writing without it", "spool", sp.Dir(), "err", lerr)
			if storeErr = direct(); storeErr == nil {
				return delivery{}, nil
			}
		default:
			defer unlock()
			fr := sp.Flush(ctx, r, write)
			logFlush(g, sp, st, fr)
			if fr.Remaining == 0 && fr.Err == nil {
				if storeErr = direct(); storeErr == nil {
					return delivery{}, nil
				}
			} else {
				storeErr = fr.Err
			}
		}
	}
	name, serr := sp.Add(e)
	if serr != nil {
		return delivery{}, fmt.Errorf("%w; and the result could not be kept either: %w", storeErr, serr)
	}
	return delivery{spooled: filepath.Join(sp.Dir(), name), storeErr: storeErr}, nil
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
	sp, ok, err := storeSpool(g, st)
	if err != nil {
		return err
	}
	if !ok {
		g.logger.Info("nothing to flush: only results for Vault are spooled", "store", st.String())
		return nil
	}
	warnOtherSpools(g, sp)
	if !sp.Exists() {
		g.logger.Info("spool empty", "spool", sp.Dir())
		return nil
	}
	unlock, err := sp.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	fr := sp.Flush(ctx, storeRetry(spool.Retry{Attempts: o.attempts, Backoff: o.backoff}), func(ctx context.Context, e spool.Entry) error {
		return writeEntry(ctx, st, e)
	})
	logFlush(g, sp, st, fr)
	if fr.Remaining > 0 || fr.Err != nil {
		return fmt.Errorf("%d results still waiting in %s: %w", fr.Remaining, sp.Dir(), fr.Err)
	}
	g.logger.Info("spool flushed", "delivered", len(fr.Delivered), "set_aside", len(fr.Problems), "store", st.String())
	return nil
}

// warnOtherSpools points out results waiting for another store (the flags
// changed since they were spooled): flush them with that store's flags.
func warnOtherSpools(g *globals, sp *spool.Spool) {
	des, err := os.ReadDir(g.spool.dir)
	if err != nil {
		return
	}
	for _, de := range des {
		dir := filepath.Join(g.spool.dir, de.Name())
		if !de.IsDir() || dir == sp.Dir() {
			continue
		}
		if other, err := spool.Open(dir); err == nil {
			if n, _ := other.Count(); n > 0 {
				g.logger.Warn("results wait for another store: flush with that store's flags", "spool", dir, "count", n)
			}
		}
	}
}
