// Package deliver writes results to the store, spooling what it cannot take
// for now: a result waits in the spool while the store is unreachable,
// sealed, overloaded or the credentials need replacing, and is delivered by
// the next command; a result the store refuses for good is an error at once.
// Results of one store key arrive in order; one key never holds up another.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"time"

	"github.com/golemtrust/backupwatch/internal/lockfile"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Store is what delivery needs of a store.
type Store interface {
	Update(ctx context.Context, key string, fn func(old map[string]any) (map[string]any, bool, error)) error
	String() string
}

// tokenChecker is offered by a store whose denials may mean either a
// token that no longer works or a policy that refuses (Vault).
type tokenChecker interface {
	TokenValid(ctx context.Context) error
}

// lockTimeout bounds the wait for another process delivering (the spool
// lock) or writing the same key (its key lock): past it, the result is
// spooled rather than the command hanging.
const lockTimeout = 2 * time.Minute

// Options configure a Deliverer.
type Options struct {
	Store Store
	// SpoolDir is this store's spool (see SpoolDir); empty for none: then
	// a result the store cannot take is an error, kept nowhere.
	SpoolDir string
	Logger   *slog.Logger
	// Written, when set, is told of each result (a backup's or a restore
	// test's) written to the store (directly or from the spool), after the
	// write; it must not block (serve is nudged from it, in the background).
	Written func(spool.Entry)
	// MaxJobsPerHost refuses a host's new job beyond it (jobcap.go); 0
	// for no limit. JobsDir is where this machine counts a host's jobs
	// when the store cannot list them cheaply (JobsDir); "" for nowhere.
	MaxJobsPerHost int
	JobsDir        string
	// Now is the clock that dates writes and judges results from the
	// future; nil for time.Now. (The invariant tests step it to deliver
	// a result again later.)
	Now func() time.Time
}

// Deliverer delivers results to one store through its spool.
type Deliverer struct {
	st      Store
	sp      *spool.Spool // nil without a spool
	log     *slog.Logger
	now     func() time.Time
	written func(spool.Entry)
	maxJobs int
	jobsDir string
}

// New returns a Deliverer; it touches no file until it delivers.
func New(o Options) (*Deliverer, error) {
	d := &Deliverer{st: o.Store, log: o.Logger, now: o.Now, written: o.Written, maxJobs: o.MaxJobsPerHost, jobsDir: o.JobsDir}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if o.SpoolDir != "" {
		sp, err := spool.Open(o.SpoolDir)
		if err != nil {
			return nil, err
		}
		d.sp = sp
	}
	return d, nil
}

// Spool is the spool results wait in, nil without one.
func (d *Deliverer) Spool() *spool.Spool { return d.sp }

// Delivery says where a result went when it was not written.
type Delivery struct {
	Spooled  string // the spool file holding it
	StoreErr error  // why the store could not take it for now
	// Credentials: the store refuses the credentials (a token invalid,
	// expired or revoked, a secret id rejected). The result waits all the
	// same, but unlike a store that is down this does not pass by itself:
	// the command must fail at once and say so.
	Credentials bool
	// Older is set when the result was written but is older than the
	// record's status (status.Older): its time is kept, the status is a
	// later result's, and the command must not say it recorded the status.
	Older bool
}

// Err is the one-line error of a result kept in the spool, nil when the
// result was written.
func (dl Delivery) Err() error {
	if dl.Spooled == "" {
		return nil
	}
	return fmt.Errorf("%w; the result is kept in %s and will be delivered by the next record, run or flush", dl.StoreErr, dl.Spooled)
}

// CredentialsErr is the error of a result kept in the spool because the
// store refuses the credentials, nil otherwise: a command fails at once
// with it rather than spooling quietly.
func (dl Delivery) CredentialsErr() error {
	if !dl.Credentials {
		return nil
	}
	return fmt.Errorf("the store refuses the credentials (replace the token or secret id, then run backupwatch flush): %w", dl.Err())
}

// RecordTimeout bounds recording after a command's work is done: the work
// may have been interrupted, and its outcome must still be written or
// spooled.
const RecordTimeout = 2 * time.Minute

// RefusedError is a result the store refuses for good: retrying or
// spooling it would change nothing.
type RefusedError struct {
	Err    error
	Reason string // what it means, for the operator
}

func (e *RefusedError) Error() string {
	if e.Reason == "" {
		return e.Err.Error() + " (refused for good: not spooled)"
	}
	return e.Err.Error() + " (refused for good, not spooled: " + e.Reason + ")"
}

func (e *RefusedError) Unwrap() error { return e.Err }

// Deliver writes e after whatever of its key waits in the spool, so that
// the results of one key arrive in the order they were produced. When the
// store cannot take it for now, e is kept in the spool and the Delivery
// says where. The error is for a result refused for good (a
// *RefusedError), or one that could neither be written nor kept.
func (d *Deliverer) Deliver(ctx context.Context, e spool.Entry, r spool.Retry) (Delivery, error) {
	// Refused before anything else: kept in the spool behind a store that
	// is down, it would be reported kept, then set aside by the flush.
	if err := d.checkNotFuture(e); err != nil {
		return Delivery{}, err
	}
	classify := d.classifier(ctx)
	r.Retryable = func(err error) bool { return classify(err) != spool.Refused }
	verdict := status.Current
	direct := func() error {
		err := r.Try(ctx, func(ctx context.Context) error {
			v, err := d.writeEntry(ctx, e)
			verdict = v
			return err
		})
		if err != nil && classify(err) == spool.Refused {
			return asRefused(err)
		}
		return err
	}
	if d.sp == nil {
		err := direct()
		return Delivery{Older: err == nil && verdict == status.Older}, err
	}
	storeErr := d.flushBefore(ctx, e, r, classify)
	if storeErr == nil {
		err := direct()
		var refused *RefusedError
		switch {
		case err == nil:
			d.LogWaiting(0)
			return Delivery{Older: verdict == status.Older}, nil
		case errors.As(err, &refused):
			d.LogWaiting(0)
			return Delivery{}, err
		}
		storeErr = err
	}
	name, serr := d.sp.Add(e)
	if serr != nil {
		return Delivery{}, fmt.Errorf("%w; and the result could not be kept either: %w", storeErr, serr)
	}
	d.LogWaiting(1) // this one is in the error already
	return Delivery{Spooled: filepath.Join(d.sp.Dir(), name), StoreErr: storeErr, Credentials: d.credentialsRefused(ctx, storeErr)}, nil
}

// flushBefore delivers what waits in the spool before e, and says why e
// must wait too: older results of its key still wait, the store is down,
// or another process is delivering them.
func (d *Deliverer) flushBefore(ctx context.Context, e spool.Entry, r spool.Retry, classify func(error) spool.Verdict) error {
	n, _, err := d.sp.Waiting()
	if err != nil {
		d.log.Error("spool unusable: writing without it", "spool", d.sp.Dir(), "err", err)
		return nil
	}
	if n == 0 {
		return nil // the common case: no lock, no file read
	}
	lctx, cancel := context.WithTimeout(ctx, lockTimeout)
	unlock, err := d.sp.Lock(lctx)
	cancel()
	switch {
	case errors.Is(err, lockfile.ErrHeld):
		// Another process is delivering: queue behind what it delivers.
		return err
	case err != nil:
		// The spool is unusable (its mode, its owner): the store may
		// still take the result, which must not be lost for that.
		d.log.Error("spool unusable: writing without it", "spool", d.sp.Dir(), "err", err)
		return nil
	}
	fr := d.sp.Flush(ctx, spool.FlushOptions{Retry: r, Deliver: d.write, Classify: classify})
	unlock()
	d.logFlush(fr)
	switch {
	case !fr.Waits(e.Key()):
		return nil
	case fr.Halted && fr.Err != nil:
		return fr.Err
	case fr.KeyErr[e.Key()] != nil:
		return fmt.Errorf("older results of %s wait in the spool: %w", e.Key(), fr.KeyErr[e.Key()])
	}
	return fmt.Errorf("older results of %s wait in the spool", e.Key())
}

// write writes one result to the store, merging it monotonically. Writers
// of one key on this machine take turns (the key lock): on KV v1, which
// has no check-and-set, two read-modify-writes at once lose one.
func (d *Deliverer) write(ctx context.Context, e spool.Entry) error {
	_, err := d.writeEntry(ctx, e)
	return err
}

// writeEntry is write, also saying what the merge made of a backup result.
func (d *Deliverer) writeEntry(ctx context.Context, e spool.Entry) (status.Verdict, error) {
	verdict := status.Current
	if err := d.checkNotFuture(e); err != nil {
		return verdict, err
	}
	if d.sp != nil {
		lctx, cancel := context.WithTimeout(ctx, lockTimeout)
		unlock, err := d.sp.LockKey(lctx, e.Key())
		cancel()
		switch {
		case errors.Is(err, lockfile.ErrHeld):
			return verdict, fmt.Errorf("write %s: another backupwatch kept writing it for %v: %w", e.Key(), lockTimeout, err)
		case err != nil:
			d.log.Warn("spool unusable: writing without its key lock (writers of one key at once may lose fields on KV v1)", "key", e.Key(), "err", err)
		default:
			defer unlock()
		}
	}
	switch {
	case e.Result != nil:
		res := *e.Result
		if err := d.checkJobLimit(ctx, res); err != nil {
			return verdict, err
		}
		err := d.st.Update(ctx, res.Key(), func(old map[string]any) (map[string]any, bool, error) {
			doc, changed, v := status.Merge(old, res)
			verdict = v
			if changed && moved(old, doc) {
				doc[status.FieldWrittenAt] = status.FormatTime(d.now())
			}
			return doc, changed, nil
		})
		if err == nil {
			d.register(res.Host, res.Job)
		}
		if err == nil && d.written != nil {
			d.written(e)
		}
		return verdict, err
	case e.RestoreTest != nil:
		rt := *e.RestoreTest
		err := d.st.Update(ctx, rt.Key(), func(old map[string]any) (map[string]any, bool, error) {
			doc, changed := status.ApplyRestoreTest(old, rt)
			return doc, changed, nil
		})
		if err == nil && d.written != nil {
			d.written(e)
		}
		return verdict, err
	}
	return verdict, &RefusedError{Err: errors.New("empty spool entry")}
}

// checkNotFuture refuses for good an entry dated beyond the clock skew
// allowance.
func (d *Deliverer) checkNotFuture(e spool.Entry) error {
	if err := status.CheckNotFuture(e.At(), d.now()); err != nil {
		return &RefusedError{Err: fmt.Errorf("%s: %w", e, err), Reason: "a result dated in the future would hide every real one until then"}
	}
	return nil
}

// moved reports whether doc changes a field of old other than the history
// and written_at. Only then is written_at this writer's clock: a result
// delivered again adds at most a history line the store already has, and
// stamping the record anew for it would write a record (on KV v2 a
// version, which is the history) that says nothing new.
func moved(old, doc map[string]any) bool {
	skip := func(k string) bool { return k == status.FieldHistory || k == status.FieldWrittenAt }
	for k, v := range doc {
		if ov, ok := old[k]; !skip(k) && (!ok || !reflect.DeepEqual(ov, v)) {
			return true
		}
	}
	for k := range old {
		if _, ok := doc[k]; !skip(k) && !ok {
			return true
		}
	}
	return false
}
