package deliver

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

	"github.com/golemtrust/backupwatch/internal/spool"
)

// Flush delivers what waits in the spool, each entry tried as r says.
func (d *Deliverer) Flush(ctx context.Context, r spool.Retry) (spool.FlushResult, error) {
	if d.sp == nil {
		return spool.FlushResult{}, errors.New("flush: no spool")
	}
	unlock, err := d.sp.Lock(ctx)
	if err != nil {
		return spool.FlushResult{}, err
	}
	defer unlock()
	fr := d.sp.Flush(ctx, spool.FlushOptions{Retry: r, Deliver: d.write, Classify: d.classifier(ctx)})
	d.logFlush(fr)
	return fr, nil
}

// Discard drops the entry with the given ID from the spool (waiting or
// rejected), under the spool lock so that no flush delivers it meanwhile.
func (d *Deliverer) Discard(ctx context.Context, id string) (spool.Item, error) {
	if d.sp == nil {
		return spool.Item{}, errors.New("discard: no spool")
	}
	unlock, err := d.sp.Lock(ctx)
	if err != nil {
		return spool.Item{}, err
	}
	defer unlock()
	it, err := d.sp.Discard(id)
	if err == nil {
		d.log.Warn("spooled result discarded: it will never reach the store", "id", it.ID(), "entry", it.Entry.String(), "spool", d.sp.Dir())
	}
	return it, err
}

func (d *Deliverer) logFlush(fr spool.FlushResult) {
	for _, p := range fr.Problems {
		d.log.Error("corrupt spool file set aside", "spool", d.sp.Dir(), "err", p)
	}
	for _, r := range fr.Rejected {
		if r.Moved == "" {
			d.log.Error("spooled result refused for good, and could not be set aside", "id", r.Item.ID(), "spool", d.sp.Dir(), "err", asRefused(r.Err))
			continue
		}
		d.log.Error("spooled result refused for good: set aside, not delivered", "id", r.Item.ID(), "file", filepath.Join(d.sp.Dir(), r.Moved), "err", asRefused(r.Err))
	}
	if n := len(fr.Delivered); n > 0 {
		d.log.Info("spooled results delivered", "count", n, "store", d.st.String())
	}
	if fr.Remaining > 0 {
		d.log.Warn("spooled results still waiting", "count", fr.Remaining, "spool", d.sp.Dir(), "err", fr.Err)
	}
}

// LogWaiting logs how many results wait in the spool and how old the
// oldest is, when more than quiet wait.
func (d *Deliverer) LogWaiting(quiet int) {
	if d.sp == nil {
		return
	}
	n, oldest, err := d.sp.Waiting()
	if err != nil || n <= quiet {
		return
	}
	age := d.now().Sub(oldest).Round(time.Second)
	d.log.Warn("results waiting in the spool", "count", n, "oldest_age", age, "spool", d.sp.Dir())
}

// OtherSpools counts the results waiting in the spools under base other
// than this Deliverer's (results spooled for another store, when the flags
// changed since).
func (d *Deliverer) OtherSpools(base string) map[string]int {
	des, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	out := map[string]int{}
	for _, de := range des {
		dir := filepath.Join(base, de.Name())
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") || (d.sp != nil && dir == d.sp.Dir()) {
			continue
		}
		if other, err := spool.Open(dir); err == nil {
			if n, _ := other.Count(); n > 0 {
				out[dir] = n
			}
		}
	}
	return out
}

// FlushError is what a flush of the spool in dir leaves to do, nil when
// nothing: results still waiting (delivered by a later flush), or refused
// for good and set aside.
func FlushError(fr spool.FlushResult, dir string) error {
	switch {
	case fr.Remaining > 0 || fr.Err != nil:
		return fmt.Errorf("%d results still waiting in %s: %w", fr.Remaining, dir, fr.Err)
	case len(fr.Rejected) > 0:
		return fmt.Errorf("%d results refused for good by the store, set aside in %s (flush --list shows them, --discard drops them): %w",
			len(fr.Rejected), filepath.Join(dir, "rejected"), fr.Rejected[0].Err)
	}
	return nil
}

// SpoolDir is the spool folder of the store named store under base: each
// store has its own, so that a result is only ever delivered to the store
// it was meant for, whatever the flags of a later command.
func SpoolDir(base, store string) string { return filepath.Join(base, spoolName(store)) }

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
