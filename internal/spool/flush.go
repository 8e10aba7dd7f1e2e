package spool

import (
	"context"
	"fmt"
	"time"
)

// Retry says how hard to try one delivery.
type Retry struct {
	Attempts int           // at least 1
	Backoff  time.Duration // before the second attempt, doubled each time
	MaxDelay time.Duration // cap of the backoff; 0 is 30s
	// Retryable says whether an error is worth another attempt (a store
	// that is down is; a refusal is not); nil retries every error.
	Retryable func(error) bool
}

// Try calls f until it succeeds, Attempts times at most, sleeping between
// attempts. It returns the last error.
func (r Retry) Try(ctx context.Context, f func(ctx context.Context) error) error {
	delay, maxDelay := r.Backoff, r.MaxDelay
	if maxDelay <= 0 {
		maxDelay = 30 * time.Second
	}
	var err error
	for i := 0; i < max(r.Attempts, 1); i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(delay):
			}
			delay = min(delay*2, maxDelay)
		}
		if err = f(ctx); err == nil {
			return nil
		}
		if r.Retryable != nil && !r.Retryable(err) {
			return err
		}
	}
	return err
}

// Verdict sorts a failed delivery by what it means for what waits.
type Verdict int

const (
	// Later: the store cannot take this entry for now. It and the later
	// entries of its key keep waiting; other keys go on.
	Later Verdict = iota
	// Down: the store cannot take anything for now (unreachable, sealed):
	// nothing more is tried in this flush.
	Down
	// Refused: the store refuses this entry for good. It is set aside in
	// rejected/ and the next entry of its key goes on.
	Refused
)

// FlushOptions say how to deliver.
type FlushOptions struct {
	Retry   Retry
	Deliver func(ctx context.Context, e Entry) error
	// Classify sorts a delivery error; nil makes every error Later.
	Classify func(error) Verdict
}

// Rejection is an entry the store refused for good, set aside.
type Rejection struct {
	Item  Item
	Moved string // where it went, empty if it could not be moved
	Err   error  // why the store refused it
}

// FlushResult says what a flush did.
type FlushResult struct {
	Delivered []Item
	Rejected  []Rejection
	Problems  []Problem        // files set aside as not entries
	Waiting   map[string]int   // entries still waiting, per key
	KeyErr    map[string]error // why, per key
	Remaining int              // entries still waiting in all
	// Halted: the flush stopped (the store was down, the spool could not
	// be read): nothing after that point was tried.
	Halted bool
	Err    error // why entries still wait (the first such error)
}

// Waits reports whether entries of key still wait after the flush, so
// that a newer result of that key must queue behind them.
func (fr FlushResult) Waits(key string) bool { return fr.Halted || fr.Waiting[key] > 0 }

// Flush delivers the pending entries with o.Deliver, retrying each as
// o.Retry says, and removes each once delivered. Within one key, entries
// go in the order they were added and none overtakes an older one that
// must wait; one key waiting never holds up another. The caller holds the
// lock.
func (s *Spool) Flush(ctx context.Context, o FlushOptions) FlushResult {
	classify := o.Classify
	if classify == nil {
		classify = func(error) Verdict { return Later }
	}
	r := o.Retry
	if r.Retryable == nil {
		r.Retryable = func(err error) bool { return classify(err) != Refused }
	}
	items, problems, err := s.Pending()
	fr := FlushResult{Problems: problems, Waiting: map[string]int{}, KeyErr: map[string]error{}}
	if err != nil {
		// A file that could not be read keeps its turn: whatever its key,
		// nothing may overtake it.
		fr.Err, fr.Halted = err, true
		return fr
	}
	wait := func(it Item, err error) {
		k := it.Entry.Key()
		fr.Waiting[k]++
		fr.Remaining++
		if err != nil && fr.KeyErr[k] == nil {
			fr.KeyErr[k] = err
		}
		if fr.Err == nil && err != nil {
			fr.Err = err
		}
	}
	for _, it := range items {
		if fr.Halted || fr.Waiting[it.Entry.Key()] > 0 {
			wait(it, fr.Err)
			continue
		}
		err := r.Try(ctx, func(ctx context.Context) error { return o.Deliver(ctx, it.Entry) })
		if err == nil {
			fr.Delivered = append(fr.Delivered, it)
			if err := s.Remove(it.Name); err != nil {
				// Delivered but still there: delivering it again later is
				// harmless (the merge is idempotent), but its key waits.
				wait(it, err)
			}
			continue
		}
		err = fmt.Errorf("deliver %s: %w", it.Entry, err)
		switch classify(err) {
		case Refused:
			moved, merr := s.Reject(it.Name, err)
			fr.Rejected = append(fr.Rejected, Rejection{Item: it, Moved: moved, Err: err})
			if merr != nil {
				wait(it, merr) // still there: it must not be overtaken
			}
		case Down:
			fr.Halted = true
			wait(it, err)
		default:
			wait(it, err)
		}
		if ctx.Err() != nil {
			fr.Halted = true
		}
	}
	return fr
}
