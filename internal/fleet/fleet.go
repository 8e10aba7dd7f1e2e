// Package fleet reads the status records of every host, expected or found,
// into one snapshot, with bounded concurrency and without ever dropping a
// host or forgetting what was known when the store fails.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Source is what a snapshot needs from a store.
type Source interface {
	List(ctx context.Context) ([]string, error)
	Get(ctx context.Context, key string) (map[string]any, error)
}

// Snapshot is the state of the fleet at one refresh.
type Snapshot struct {
	Hosts       []status.Record     // sorted by host name
	RestoreTest *status.RestoreTest // nil when none is recorded
	// Listed is set once the store's listing has been read, in this
	// refresh or an earlier one: until then nothing is known of the fleet.
	Listed bool
	// Problems are store-level diagnostics (a sub-folder under the prefix).
	Problems []string
	// Err is set when the refresh did not reach the store completely; the
	// records are then the last ones known.
	Err      error
	Started  time.Time
	Duration time.Duration
	// LastSuccess is when a refresh last reached the store completely.
	LastSuccess time.Time
}

// Options tune a refresh.
type Options struct {
	Expected []string // hosts that must be there, recorded or not
	Workers  int      // concurrent reads; 8 if zero
	Now      func() time.Time
}

// Load reads every record. prev, when not nil, is the previous snapshot: a
// record that cannot be read now keeps its previous value, so a store outage
// never turns known hosts into unknown ones.
func Load(ctx context.Context, src Source, opts Options, prev *Snapshot) *Snapshot {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	snap := &Snapshot{Started: now()}
	if prev != nil {
		snap.LastSuccess, snap.Listed = prev.LastSuccess, prev.Listed
	}
	defer func() { snap.Duration = now().Sub(snap.Started) }()

	keys, err := src.List(ctx)
	if err != nil {
		snap.Err = err
		if prev != nil {
			snap.Hosts, snap.RestoreTest, snap.Problems = prev.Hosts, prev.RestoreTest, prev.Problems
			return snap
		}
		for _, h := range dedupe(opts.Expected) {
			snap.Hosts = append(snap.Hosts, status.Record{Host: h, Status: status.Unknown, Unread: true, Problems: []string{"store not reached"}})
		}
		return snap
	}

	snap.Listed = true
	hosts, hasRestoreTest := hostsToRead(keys, opts.Expected, snap)
	snap.Hosts = make([]status.Record, len(hosts))
	var prevByHost map[string]status.Record
	if prev != nil {
		prevByHost = make(map[string]status.Record, len(prev.Hosts))
		for _, r := range prev.Hosts {
			prevByHost[r.Host] = r
		}
	}

	var (
		mu      sync.Mutex
		failure error
	)
	fail := func(err error) {
		mu.Lock()
		if failure == nil {
			failure = err
		}
		mu.Unlock()
	}
	work := make(chan int)
	var wg sync.WaitGroup
	workers := opts.Workers
	if workers <= 0 {
		workers = 8
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				h := hosts[i]
				data, err := src.Get(ctx, h)
				switch {
				case err == nil:
					snap.Hosts[i] = status.Parse(h, data)
					if verr := status.ValidateHost(h); verr != nil {
						snap.Hosts[i].Problems = append(snap.Hosts[i].Problems, verr.Error())
					}
				case errors.Is(err, status.ErrNotFound):
					snap.Hosts[i] = status.Record{Host: h, Status: status.Unknown, NoRecord: true, Problems: []string{"no record"}}
				case errors.Is(err, status.ErrMalformed):
					// The store answered; this one record is unreadable.
					snap.Hosts[i] = status.Record{Host: h, Status: status.Unknown, Problems: []string{err.Error()}}
				default:
					fail(err)
					if p, ok := prevByHost[h]; ok {
						// The record as last read, problems and all: the
						// failure is the store's (snap.Err), not the
						// record's, and appending it here would grow the
						// list at every refresh while the failure lasts.
						snap.Hosts[i] = p
					} else {
						snap.Hosts[i] = status.Record{Host: h, Status: status.Unknown, Unread: true, Problems: []string{err.Error()}}
					}
				}
			}
		}()
	}
	for i := range hosts {
		work <- i
	}
	close(work)
	wg.Wait()

	if hasRestoreTest {
		data, err := src.Get(ctx, status.RestoreTestKey)
		switch {
		case err == nil:
			rt := status.ParseRestoreTest(data)
			snap.RestoreTest = &rt
		case errors.Is(err, status.ErrNotFound):
		case errors.Is(err, status.ErrMalformed):
			rt := status.ParseRestoreTest(nil)
			rt.Problems = []string{err.Error()}
			snap.RestoreTest = &rt
		default:
			fail(err)
			if prev != nil {
				snap.RestoreTest = prev.RestoreTest
			}
		}
	}
	snap.Err = failure
	if failure == nil {
		snap.LastSuccess = now()
	}
	return snap
}

// hostsToRead is the sorted union of listed and expected hosts.
func hostsToRead(keys, expected []string, snap *Snapshot) ([]string, bool) {
	seen := map[string]bool{}
	hasRestoreTest := false
	var hosts []string
	add := func(h string) {
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	for _, k := range keys {
		switch {
		case k == status.RestoreTestKey:
			hasRestoreTest = true
		case strings.HasSuffix(k, "/"):
			snap.Problems = append(snap.Problems, fmt.Sprintf("%q is a folder under the prefix, not a host record", status.Truncate(k, 80)))
		default:
			add(k)
		}
	}
	for _, h := range expected {
		add(h)
	}
	sort.Strings(hosts)
	return hosts, hasRestoreTest
}

func dedupe(hs []string) []string {
	out := append([]string(nil), hs...)
	sort.Strings(out)
	j := 0
	for i, h := range out {
		if i == 0 || h != out[j-1] {
			out[j] = h
			j++
		}
	}
	return out[:j]
}
