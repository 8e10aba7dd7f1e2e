// Package deadman is backupwatch's dead man's switch: it takes heartbeats
// (Alertmanager's always-firing BackupwatchWatchdog, or any POST or GET)
// and, when they stop, tells a person directly over Slack and email,
// sharing nothing with the Prometheus and Alertmanager it watches.
package deadman

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// AnySender is the one sender's name when no senders are configured:
// every heartbeat, from whoever, counts for it.
const AnySender = "heartbeat"

// Notifier tells a person; Slack and Email are the two there are.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, m Message) error
}

// Options configure a Switch.
type Options struct {
	// Senders are the expected senders (an Alertmanager's external URL, or
	// the sender query parameter of a plain request). None: any
	// heartbeat counts for the one sender AnySender.
	Senders   []string
	Timeout   time.Duration // silent after this long without a heartbeat
	Reminder  time.Duration // while every sender is silent, told again this often
	StateFile string        // "" keeps the state in memory only
	Notifiers []Notifier
	Logger    *slog.Logger
	Now       func() time.Time // the clock; time.Now when nil
}

// Switch is the dead man's switch: the senders' last heartbeats and what
// each notifier has told so far.
type Switch struct {
	opts    Options
	now     func() time.Time
	logger  *slog.Logger
	started time.Time

	mu      sync.Mutex
	senders map[string]*sender
	told    map[string]*told // by notifier name
	dirty   bool             // the state changed since it was written
	judging bool             // the first --timeout after start has passed
	// partial and partialSince: the silent senders when some but not all
	// are silent, and since when that has held (see settle).
	partial      []string
	partialSince time.Time
	rejected     map[string]float64
	unlogged     map[string]float64   // rejected since the last log line, by reason
	rejectLogged map[string]time.Time // when a line about a reason was last logged
	sent         map[string]float64
	failed       map[string]float64
	stateErr     float64 // state file reads and writes that failed
}

type sender struct {
	last  time.Time // zero: not heard since the state began
	count float64
	// gapFrom is the last heartbeat before the latest silence (longer
	// than Timeout) ended, to say how long it lasted.
	gapFrom time.Time
}

// told is what one notifier last told a person successfully: the senders
// then silent, and when (a reminder is due Reminder after it).
type told struct {
	Silent []string  `json:"silent"`
	At     time.Time `json:"at"`
}

// New returns a switch that starts judging one Timeout after now, with the
// state file read (a missing file is a first start; a corrupt one is set
// aside and logged).
func New(o Options) (*Switch, error) {
	if o.Timeout <= 0 {
		return nil, fmt.Errorf("the timeout must be above 0, not %v", o.Timeout)
	}
	if o.Reminder <= 0 {
		return nil, fmt.Errorf("the reminder interval must be above 0, not %v", o.Reminder)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Switch{
		opts: o, now: o.Now, logger: o.Logger,
		senders: map[string]*sender{}, told: map[string]*told{},
		rejected: map[string]float64{}, sent: map[string]float64{}, failed: map[string]float64{},
		unlogged: map[string]float64{}, rejectLogged: map[string]time.Time{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.started = s.now()
	names := []string{AnySender}
	if len(o.Senders) > 0 {
		names = names[:0]
		for _, n := range o.Senders {
			k, err := normaliseSender(n)
			if err != nil {
				return nil, fmt.Errorf("sender %q: %w", truncate(n, 80), err)
			}
			if k == "" {
				return nil, fmt.Errorf("sender %q: empty", n)
			}
			names = append(names, k)
		}
	}
	for _, n := range names {
		s.senders[n] = &sender{}
	}
	for _, n := range o.Notifiers {
		s.told[n.Name()] = &told{}
	}
	s.loadState()
	return s, nil
}

// Heartbeat records a heartbeat from name ("" for an anonymous one). It
// reports false for a sender that is not expected.
func (s *Switch) Heartbeat(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, any := s.senders[AnySender]; any && len(s.senders) == 1 {
		name = AnySender
	}
	snd, ok := s.senders[name]
	if !ok {
		return false
	}
	now := s.now()
	if now.Sub(snd.last) > s.opts.Timeout {
		snd.gapFrom = snd.last
		if snd.gapFrom.IsZero() {
			snd.gapFrom = s.started
		}
	}
	snd.last = now
	snd.count++
	s.dirty = true
	return true
}

// rejectLogEvery bounds the log lines about rejected requests: one per
// reason per interval, saying how many there were, so a flood cannot
// flood the log.
const rejectLogEvery = time.Minute

// reject counts a request that is not a heartbeat, and logs it when no
// line about that reason was logged for rejectLogEvery.
func (s *Switch) reject(reason, detail string) {
	now := s.now()
	s.mu.Lock()
	s.rejected[reason]++
	s.unlogged[reason]++
	n, last := s.unlogged[reason], s.rejectLogged[reason]
	log := last.IsZero() || now.Sub(last) >= rejectLogEvery
	if log {
		s.rejectLogged[reason], s.unlogged[reason] = now, 0
	}
	s.mu.Unlock()
	if log {
		s.logger.Warn("a request to /heartbeat was not taken as a heartbeat", "reason", reason, "detail", truncate(detail, 200), "rejected_since_last_line", n)
	}
}

// Run judges every interval until ctx ends, writing the state file when
// it changed.
func (s *Switch) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.Judge(ctx)
		s.saveState()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Judge tells each notifier's person what changed since it last told
// them, or reminds them of a silence that goes on. Nothing is judged
// during the first Timeout after start: heartbeats that came while this
// process was down were lost, not missed.
func (s *Switch) Judge(ctx context.Context) {
	now := s.now()
	s.mu.Lock()
	if now.Sub(s.started) < s.opts.Timeout {
		s.mu.Unlock()
		return
	}
	s.judging = true
	silent := s.silentLocked(now)
	// Senders that stop (or come back) together cross the timeout a
	// heartbeat apart: a warning is told only once it has held for
	// settle, so that "all stopped" is one page and "all back" one
	// message, not a warning first.
	partial := len(silent) > 0 && len(silent) < len(s.senders)
	if !partial {
		s.partial = nil
	} else if !slices.Equal(s.partial, silent) {
		s.partial, s.partialSince = silent, now
	}
	unsettled := partial && now.Sub(s.partialSince) < s.settle()
	type job struct {
		n   Notifier
		msg Message
		to  []string
	}
	var jobs []job
	for _, n := range s.opts.Notifiers {
		t := s.told[n.Name()]
		switch {
		case unsettled:
		case !slices.Equal(t.Silent, silent):
			jobs = append(jobs, job{n, s.messageLocked(t.Silent, silent, now, false), silent})
		case len(silent) > 0 && len(silent) == len(s.senders) && now.Sub(t.At) >= s.opts.Reminder:
			jobs = append(jobs, job{n, s.messageLocked(t.Silent, silent, now, true), silent})
		}
	}
	s.mu.Unlock()

	for _, j := range jobs {
		err := j.n.Notify(ctx, j.msg)
		s.mu.Lock()
		if err != nil {
			s.failed[j.n.Name()]++
			s.logger.Error("notifying failed: trying again at the next check", "notifier", j.n.Name(), "message", j.msg.Kind, "err", err)
		} else {
			s.sent[j.n.Name()]++
			*s.told[j.n.Name()] = told{Silent: j.to, At: now}
			s.dirty = true
			s.logger.Info("notified", "notifier", j.n.Name(), "message", j.msg.Kind, "silent", j.to)
		}
		s.mu.Unlock()
	}
}

// settle is how long some senders must stay silent, the others not,
// before a warning is told: a fifth of the timeout (two minutes of the
// default 10m, two heartbeats).
func (s *Switch) settle() time.Duration { return s.opts.Timeout / 5 }

// silentLocked returns the senders without a heartbeat for Timeout, sorted.
func (s *Switch) silentLocked(now time.Time) []string {
	var out []string
	for name, snd := range s.senders {
		if now.Sub(snd.last) > s.opts.Timeout {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Status is a sender's state, for /metrics.
type Status struct {
	Name   string
	Last   time.Time
	Count  float64
	Silent bool
}

// Snapshot returns each sender's state, sorted by name, and whether the
// switch judges yet.
func (s *Switch) Snapshot() ([]Status, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for name, snd := range s.senders {
		out = append(out, Status{name, snd.last, snd.count, s.judging && now.Sub(snd.last) > s.opts.Timeout})
	}
	slices.SortFunc(out, func(a, b Status) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out, s.judging
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
