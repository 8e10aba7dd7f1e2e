// Package restoretest runs a restore test: picks the snapshot (the host
// tested least recently, past an incomplete one), restores it with restic
// into an empty scratch directory, verifies what came back, and records
// passed or failed, for the fleet and for the tested host.
package restoretest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/ping"
	"github.com/golemtrust/backupwatch/internal/repocheck"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Store is what a restore test needs of a store: the hosts' records (is
// the latest snapshot incomplete?) and the tested hosts' restore tests.
type Store interface {
	Get(ctx context.Context, key string) (map[string]any, error)
	Update(ctx context.Context, key string, fn func(old map[string]any) (map[string]any, bool, error)) error
}

// InputError is a problem with what the operator asked for (a scratch
// directory that is not empty, an incomplete only snapshot): nothing was
// tested or recorded.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Test describes one restore test.
type Test struct {
	Repo         restic.Repo
	Snapshot     string // "latest" or an ID
	SnapshotHost string // with Snapshot "latest": that host's latest
	PickOldest   bool   // test the repository's host tested least recently
	// Declared is the fleet (the config file's hosts): with PickOldest,
	// only these are picked; the repository's other host names are
	// reported, never tested. Empty: every host name in the repository.
	Declared   []string
	Expect     []string
	Scratch    string // "" for a new temporary directory
	HostTested string // "" for the snapshot's host
	Job        string
	ReadData   bool
	DataSubset string
	// AllowIncomplete tests a latest snapshot whose backup exited 3;
	// otherwise the one before it is tested (SkipIncomplete).
	AllowIncomplete bool
	AllowEmpty      bool // a restore of no file passes

	Records   Store  // the hosts' records
	StoreName string // Records' name, for the log
	// Checks opens the tested hosts' restore test records; create makes
	// a missing local store (to write), else it reads as empty.
	Checks         func(create bool) (Store, error)
	ChecksLocation string // where Checks records, for messages
	// Deliver writes the fleet's record, or keeps it in the spool.
	Deliver func(ctx context.Context, e spool.Entry) (deliver.Delivery, error)
	Scrub   func(string) string
	// Ping, when not nil, tells an outside checker of the start and the
	// end, with the notes recorded; its URL must be among Scrub's secrets.
	Ping   *ping.Pinger
	Logger *slog.Logger
}

// Validate checks what the operator asked for before anything runs: the
// repository and snapshot named, the expected paths inside the restore,
// the host to record as tested, and the host picking (--pick oldest
// chooses the host and its snapshot, so names neither). Its errors name
// the flags of `restore-test run`. Run calls it first.
func (t *Test) Validate() error {
	if strings.TrimSpace(t.Repo.Repository) == "" {
		return errors.New("--repo must name the repository to test")
	}
	if t.Snapshot == "" {
		return errors.New("--snapshot must not be empty")
	}
	for _, p := range t.Expect {
		if err := CheckExpectPath(p); err != nil {
			return err
		}
	}
	if t.HostTested != "" {
		if err := status.ValidateHost(t.HostTested); err != nil {
			return fmt.Errorf("--host-tested: %w", err)
		}
	}
	if t.PickOldest && (t.SnapshotHost != "" || t.Snapshot != "latest") {
		return errors.New("--pick oldest chooses the host and takes its latest snapshot: drop --snapshot.host and --snapshot")
	}
	return nil
}

// Report is what a restore test did.
type Report struct {
	Test    status.RestoreTest // as recorded
	Failed  error              // why the test failed; nil when it passed
	Spooled string             // the spool file keeping the record, if any
}

// Run runs the test and records its result, also when it failed. The error
// is for a test that could not be run (*InputError, a store that cannot be
// read) or a result that could not be recorded; a failed test is
// Report.Failed.
func (t *Test) Run(ctx context.Context) (_ Report, err error) {
	log := t.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	scrub := t.Scrub
	if scrub == nil {
		scrub = func(s string) string { return s }
	}
	var rep Report
	if err := t.Validate(); err != nil {
		return rep, &InputError{err}
	}
	ended := false // the end pinged
	if t.Ping != nil {
		t.Ping.Start(ctx, scrub(fmt.Sprintf("restore test started: snapshot %s of %s", t.Snapshot, t.Repo.Repository)))
		defer func() {
			if !ended && err != nil {
				t.Ping.End(ctx, false, 0, scrub("restore test not run: "+err.Error()))
			}
		}()
	}
	if t.PickOldest {
		hosts, err := Hosts(ctx, t.Repo)
		if err != nil {
			// As without --pick: a repository that cannot be opened is a
			// failed restore test, recorded, not a run that did nothing.
			rep.Test, rep.Failed = t.failed(err)
		} else {
			checks, err := t.Checks(false)
			if err != nil {
				return rep, err
			}
			candidates, unknown := repocheck.PickCandidates(hosts, t.Declared)
			if len(unknown) > 0 {
				log.Warn("hosts in the repository that the fleet does not declare: not restore-tested", "count", len(unknown), "first", unknown[:min(10, len(unknown))])
			}
			if len(candidates) == 0 {
				rep.Test, rep.Failed = t.failed(fmt.Errorf("--pick oldest: no host of the fleet has a snapshot in %s (%d other host names)", t.Repo.Repository, len(unknown)))
			} else {
				h, err := Oldest(ctx, checks, candidates)
				if err != nil {
					return rep, err
				}
				log.Info("picked the host restore-tested least recently", "host", h)
				t.SnapshotHost = h
			}
		}
	}
	if rep.Failed == nil {
		if !t.AllowIncomplete {
			err := t.SkipIncomplete(ctx, log)
			switch {
			case errors.Is(err, restic.ErrTimeout):
				// A restic that hangs here would hang again finding the
				// snapshot: failed now, not after a second timeout.
				rep.Test, rep.Failed = t.failed(fmt.Errorf("find snapshot %s: %w", t.Snapshot, err))
			case err != nil:
				return rep, err
			}
		}
	}
	if rep.Failed == nil {
		scratch, cleanup, err := PrepareScratch(t.Scratch)
		if err != nil {
			return rep, err
		}
		rep.Test, rep.Failed = t.restore(ctx, scratch)
		if err := cleanup(); err != nil {
			log.Warn("scratch directory not cleaned up", "dir", scratch, "err", err)
			rep.Test.Notes += "; scratch directory " + scratch + " not cleaned up"
		}
	}
	rep.Test.Notes = status.Truncate(scrub(rep.Test.Notes), 1000)
	if t.Ping != nil {
		ended = true
		t.Ping.End(ctx, rep.Failed == nil, 0, scrub("restore test "+rep.Test.Result+": "+rep.Test.Notes))
		if n := t.Ping.Failures(); n > 0 {
			log.Warn("pings to the checker failed; the restore test is recorded as it is", "failed_pings", n)
		}
	}
	return rep, t.record(ctx, log, &rep)
}

// record writes the fleet's record (spooled when the store is away) and
// the tested host's (at once, not spooled: the fleet's is the one that
// must arrive).
func (t *Test) record(ctx context.Context, log *slog.Logger, rep *Report) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliver.RecordTimeout)
	defer cancel()
	rt := rep.Test
	d, rerr := t.Deliver(rctx, spool.Entry{RestoreTest: &rt})
	if rerr != nil {
		log.Error("could not record the restore test", "err", rerr)
	}
	if herr := RecordHost(rctx, t.Checks, t.ChecksLocation, rt); herr != nil {
		log.Error("could not record the host's restore test", "err", herr)
		rerr = errors.Join(rerr, herr)
	}
	rep.Spooled = d.Spooled
	if d.Spooled != "" {
		log.Warn("store unavailable: restore test kept in the spool", "file", d.Spooled, "err", d.StoreErr)
	}
	rerr = errors.Join(rerr, d.CredentialsErr())
	var mins any = "-"
	if rt.TimeToRestoreMinutes != nil {
		mins = *rt.TimeToRestoreMinutes
	}
	log.Info("restore test done", "result", rt.Result, "host_tested", rt.HostTested, "time_to_restore_minutes", mins, "spooled", d.Spooled != "", "store", t.StoreName)
	return rerr
}

// RecordHost writes rt as the restore test of its tested host, beside the
// runbook's fleet record, in the store open opens (to write) at location.
// A host_tested that is not a host name has no such record, nor has a
// job's test.
func RecordHost(ctx context.Context, open func(create bool) (Store, error), location string, rt status.RestoreTest) error {
	if rt.Job != "" || status.ValidateHost(rt.HostTested) != nil {
		return nil
	}
	st, err := open(true)
	if err != nil {
		return err
	}
	err = st.Update(ctx, rt.HostTested, func(old map[string]any) (map[string]any, bool, error) {
		doc, changed := status.ApplyRestoreTest(old, rt)
		return doc, changed, nil
	})
	if err != nil {
		return fmt.Errorf("record the restore test of %s at %s: %w", rt.HostTested, location, err)
	}
	return nil
}

// failed is the restore test failed by err before anything was restored.
func (t *Test) failed(err error) (status.RestoreTest, error) {
	rt := status.RestoreTest{Job: t.Job, LastTest: time.Now(), Result: status.Failed, HostTested: t.HostTested}
	if err != nil {
		rt.Notes = "failed: " + err.Error()
	}
	return rt, err
}

// restore runs the test proper into scratch and returns what to record;
// the error says why it failed.
func (t *Test) restore(ctx context.Context, scratch string) (status.RestoreTest, error) {
	rt, _ := t.failed(nil)
	fail := func(err error) (status.RestoreTest, error) {
		rt.Notes = "failed: " + err.Error()
		return rt, err
	}
	snap, err := t.Repo.Snapshot(ctx, t.Snapshot, t.SnapshotHost)
	if err != nil {
		return fail(fmt.Errorf("find snapshot %s: %w", t.Snapshot, err))
	}
	if rt.HostTested == "" {
		rt.HostTested = snap.Hostname
	}
	short := snap.ShortID
	if short == "" {
		short = snap.ID[:min(8, len(snap.ID))]
	}
	if err := t.Repo.Check(ctx, t.ReadData, t.DataSubset); err != nil {
		return fail(err)
	}
	t0 := time.Now()
	err = t.Repo.Restore(ctx, snap.ID, scratch, true)
	mins := math.Round(time.Since(t0).Minutes()*1000) / 1000
	rt.TimeToRestoreMinutes = &mins
	if err != nil {
		return fail(fmt.Errorf("restore snapshot %s: %w", short, err))
	}
	files, err := Verify(scratch, t.Expect, t.AllowEmpty)
	if err != nil {
		return fail(fmt.Errorf("snapshot %s: %w", short, err))
	}
	rt.Result = status.Passed
	rt.Notes = fmt.Sprintf("restored snapshot %s of %s taken %s (%d files) with restic, verified; restic check passed", short, snap.Hostname, status.FormatTime(snap.Time), files)
	if len(t.Expect) > 0 {
		rt.Notes += fmt.Sprintf("; %d expected paths present and not empty", len(t.Expect))
	}
	return rt, nil
}
