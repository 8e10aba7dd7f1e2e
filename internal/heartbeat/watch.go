package heartbeat

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Watcher reads switches in the background and keeps their latest
// states, so that a page or a scrape never waits for a switch.
type Watcher struct {
	readers []*Reader
	logger  *slog.Logger
	states  atomic.Pointer[[]State]
}

// NewWatcher returns a watcher of the readers' switches, each Pending
// until its first read.
func NewWatcher(readers []*Reader, logger *slog.Logger) *Watcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{readers: readers, logger: logger}
	states := make([]State, len(readers))
	for i, r := range readers {
		states[i] = State{Switch: r.String()}
	}
	w.states.Store(&states)
	return w
}

// States returns the latest state of each switch, in the readers' order.
func (w *Watcher) States() []State {
	if w == nil {
		return nil
	}
	return *w.states.Load()
}

// Run reads every switch at once, then every interval, until ctx ends.
// A change between reachable and not is logged once.
func (w *Watcher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.readAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Watcher) readAll(ctx context.Context) {
	prev := w.States()
	next := make([]State, len(w.readers))
	var wg sync.WaitGroup
	for i, r := range w.readers {
		wg.Go(func() { next[i] = r.Read(ctx) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // cut short by the end, not by the switch
	}
	for i, st := range next {
		was := prev[i].Verdict()
		switch now := st.Verdict(); {
		case now == Unreachable && was != Unreachable:
			w.logger.Warn("the dead man's switch cannot be read: the page and status show it as unreachable", "switch", st.Switch, "err", st.Err)
		case now != Unreachable && was == Unreachable:
			w.logger.Info("the dead man's switch can be read again", "switch", st.Switch)
		}
	}
	w.states.Store(&next)
}
