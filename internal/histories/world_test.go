package histories

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// outageStore is the real local store behind a switch: while down, every
// call fails as an unreachable Vault does, so that delivery spools and
// serve keeps what it knew. It is a fault, not a stand-in: what it lets
// through is the local store's own behaviour.
type outageStore struct {
	backend
	down atomic.Bool
}

// backend is a real store: the local store or Vault.
type backend interface {
	Update(ctx context.Context, key string, fn func(map[string]any) (map[string]any, bool, error)) error
	Get(ctx context.Context, key string) (map[string]any, error)
	List(ctx context.Context) ([]string, error)
	ListFolder(ctx context.Context, folder string) ([]string, error)
	Delete(ctx context.Context, key string) error
	String() string
}

var (
	_ backend = (*localstore.Store)(nil)
	_ backend = (*vaultkv.Store)(nil)
)

func (s *outageStore) fail(op, key string) error {
	if !s.down.Load() {
		return nil
	}
	return &vaultkv.Error{Op: op, Path: key, Reason: "store down (test outage)", Kind: vaultkv.KindUnreachable}
}

func (s *outageStore) Update(ctx context.Context, key string, fn func(map[string]any) (map[string]any, bool, error)) error {
	if err := s.fail("write", key); err != nil {
		return err
	}
	return s.backend.Update(ctx, key, fn)
}

func (s *outageStore) Get(ctx context.Context, key string) (map[string]any, error) {
	if err := s.fail("read", key); err != nil {
		return nil, err
	}
	return s.backend.Get(ctx, key)
}

func (s *outageStore) List(ctx context.Context) ([]string, error) {
	if err := s.fail("list", ""); err != nil {
		return nil, err
	}
	return s.backend.List(ctx)
}

func (s *outageStore) ListFolder(ctx context.Context, folder string) ([]string, error) {
	if err := s.fail("list", folder); err != nil {
		return nil, err
	}
	return s.backend.ListFolder(ctx, folder)
}

func (s *outageStore) Delete(ctx context.Context, key string) error {
	if err := s.fail("delete", key); err != nil {
		return err
	}
	return s.backend.Delete(ctx, key)
}

// delivery is one write to the store that Deliverer reported (Written).
type delivery struct {
	msg string // the result's message: its identity in a history
	key string
}

// world is one machine's view of a history: a store, two processes
// delivering through one spool (record/run and flush), and a serve.
type world struct {
	store *outageStore
	dl    [2]*deliver.Deliverer
	retry spool.Retry

	// ahead is how far the deliverers' clock runs ahead of the real one
	// (nanoseconds): a step delivering a result again steps it, as a
	// redelivery comes later.
	ahead atomic.Int64

	mu        sync.Mutex
	delivered []delivery // in the order the store took them

	serve     *collector.Collector
	stopServe context.CancelFunc
	served    sync.WaitGroup
}

// now is the deliverers' clock.
func (w *world) now() time.Time { return time.Now().Add(time.Duration(w.ahead.Load())) }

// newWorld makes a world in dir on st, or on a local store in dir when st
// is nil.
func newWorld(dir string, st backend) (*world, error) {
	if st == nil {
		ls, err := localstore.Open(filepath.Join(dir, "store"))
		if err != nil {
			return nil, err
		}
		st = ls
	}
	w := &world{store: &outageStore{backend: st}, retry: spool.Retry{Attempts: 1}}
	spoolDir := deliver.SpoolDir(filepath.Join(dir, "spool"), st.String())
	for i := range w.dl {
		d, err := deliver.New(deliver.Options{Store: w.store, SpoolDir: spoolDir, Written: w.written, Now: w.now})
		if err != nil {
			return nil, err
		}
		w.dl[i] = d
	}
	w.restartServe()
	return w, nil
}

// written is what record and run do after a write: note it and nudge
// serve (in process here, over HTTP there).
func (w *world) written(e spool.Entry) {
	if e.Result == nil {
		return // a restore test: not in these histories
	}
	w.mu.Lock()
	w.delivered = append(w.delivered, delivery{msg: e.Result.Message, key: e.Key()})
	c := w.serve
	w.mu.Unlock()
	c.Nudge("histories", status.JobID{Host: e.Result.Host, Job: e.Result.Job})
}

// restartServe stops serve, if running, and starts a new one, which
// refreshes at once and then only when told (or nudged).
func (w *world) restartServe() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopServe != nil {
		w.stopServe()
		w.served.Wait()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := collector.New(collector.Options{Source: w.store, Timeout: 10 * time.Second, NudgeRate: 1000})
	w.serve, w.stopServe = c, cancel
	w.served.Add(1)
	go func() {
		defer w.served.Done()
		c.Run(ctx, time.Hour)
	}()
}

// collector returns the running serve.
func (w *world) collector() *collector.Collector {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.serve
}

// settle waits until serve has made its first refresh and read every host
// nudged so far.
func (w *world) settle() error {
	c := w.collector()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c.Ready() && nudgesDone(c) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("serve did not read the nudged hosts within 20s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// nudgesDone reports whether every queued nudge has been read (or its
// read failed).
func nudgesDone(c *collector.Collector) bool { return c.NudgesIdle() }

func (w *world) close() {
	w.mu.Lock()
	stop := w.stopServe
	w.mu.Unlock()
	stop()
	w.served.Wait()
}

// deliveredSince returns the messages written to key after the first n
// deliveries (n from mark).
func (w *world) deliveredSince(n int, key string) map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for _, d := range w.delivered[n:] {
		if d.key == key {
			out[d.msg] = true
		}
	}
	return out
}

// mark is the number of deliveries so far.
func (w *world) mark() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.delivered)
}

// schedules results may carry: a schedule change is a result carrying
// another one.
var schedules = func() []*schedule.Schedule {
	out := []*schedule.Schedule{nil}
	for _, mk := range []func() (schedule.Schedule, error){
		func() (schedule.Schedule, error) { return schedule.Interval(6*time.Hour, 0) },
		func() (schedule.Schedule, error) { return schedule.Interval(24*time.Hour, time.Hour) },
		func() (schedule.Schedule, error) { return schedule.Cron("0 3 * * *", "", -1) },
	} {
		s, err := mk()
		if err != nil {
			panic(fmt.Sprintf("schedule: %v", err))
		}
		out = append(out, &s)
	}
	return out
}()

// scheduleString names a recorded schedule for comparisons; "" for none.
func scheduleString(s *schedule.Schedule) string {
	if s == nil {
		return ""
	}
	return s.String()
}
