package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

// recordHostRestoreTest writes rt as the restore test of its tested host,
// at <checks>/restore-test/<host>, beside the runbook's fleet record
// (which is written as before). A host_tested that is not a host name has
// no such record. It is written at once, not spooled: the fleet record
// (spooled when the store is away) stays the one that must arrive.
func recordHostRestoreTest(ctx context.Context, g *globals, rt status.RestoreTest) error {
	if rt.Job != "" || status.ValidateHost(rt.HostTested) != nil {
		return nil
	}
	st, err := g.store.openChecks(g, checksRestoreTest, true)
	if err != nil {
		return err
	}
	err = st.Update(ctx, rt.HostTested, func(old map[string]any) (map[string]any, bool, error) {
		doc, changed := status.ApplyRestoreTest(old, rt)
		return doc, changed, nil
	})
	if err != nil {
		return fmt.Errorf("record the restore test of %s at %s: %w", rt.HostTested, g.store.checksLocation(checksRestoreTest), err)
	}
	return nil
}

// repoError is the repository failing the restore test before a host is
// picked: it cannot be opened, or holds nothing to restore.
type repoError struct{ error }

func (e *repoError) Unwrap() error { return e.error }

// pickOldest is the host of the repository whose backup was restore-tested
// least recently: one never tested first (by name), else the oldest test.
func pickOldest(ctx context.Context, g *globals, repo restic.Repo) (string, error) {
	snaps, err := repo.Snapshots(ctx, "")
	if err != nil {
		return "", &repoError{fmt.Errorf("--pick oldest: list the repository's hosts: %w", err)}
	}
	hosts := map[string]bool{}
	for _, s := range snaps {
		if status.ValidateHost(s.Hostname) == nil {
			hosts[s.Hostname] = true
		}
	}
	if len(hosts) == 0 {
		return "", &repoError{errors.New("--pick oldest: the repository holds no snapshot of any host")}
	}
	st, err := g.store.openChecks(g, checksRestoreTest, false)
	if err != nil {
		return "", err
	}
	best, bestSet := "", false
	var bestAt status.RestoreTest
	for h := range hosts {
		data, err := st.Get(ctx, h)
		var rt status.RestoreTest
		switch {
		case err == nil:
			rt = status.ParseRestoreTest(data)
		case errors.Is(err, status.ErrNotFound), errors.Is(err, status.ErrMalformed):
		default:
			return "", fmt.Errorf("--pick oldest: read the restore test of %s: %w", h, err)
		}
		older := !bestSet || rt.LastTest.Before(bestAt.LastTest) || rt.LastTest.Equal(bestAt.LastTest) && h < best
		if older {
			best, bestAt, bestSet = h, rt, true
		}
	}
	return best, nil
}

// skipIncomplete makes --snapshot=latest pass over a snapshot that its
// host's record says was made by a backup that exited 3 (some files could
// not be read): restic marks such a snapshot nowhere in the repository (not
// 0.14, not 0.19), so the record `run` wrote (exit_code 3 beside its
// snapshot_id) is the only witness. The snapshot before it of the same
// host is tested instead. A record that cannot be read (the restore
// tester's policy need not read hosts' records) leaves the choice alone.
func skipIncomplete(ctx context.Context, g *globals, st recordStore, repo restic.Repo, o *restoreTestRunOptions) error {
	if o.snapshot != "latest" {
		return nil
	}
	snaps, err := repo.Snapshots(ctx, o.snapshotHost)
	if err != nil || len(snaps) == 0 {
		return nil // restoreTest says why
	}
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].Time.After(snaps[j].Time) })
	newest := snaps[0]
	data, err := st.Get(ctx, newest.Hostname)
	if err != nil {
		if !errors.Is(err, status.ErrNotFound) {
			g.logger.Warn("cannot tell whether the latest snapshot is incomplete: the host's record is not readable", "host", newest.Hostname, "err", err)
		}
		return nil
	}
	rec := status.Parse(newest.Hostname, data)
	if rec.ExitCode == nil || *rec.ExitCode != restic.ExitIncomplete || len(rec.SnapshotID) < 8 || !strings.HasPrefix(newest.ID, rec.SnapshotID) {
		return nil
	}
	for _, s := range snaps[1:] {
		if s.Hostname == newest.Hostname {
			g.logger.Warn("skipping the latest snapshot: its backup exited 3 (incomplete); testing the one before it (--allow-incomplete tests it)",
				"host", newest.Hostname, "skipped", newest.ShortID, "snapshot", s.ShortID)
			o.snapshot, o.snapshotHost = s.ID, newest.Hostname
			return nil
		}
	}
	return usageError{fmt.Errorf("the only snapshot of %s (%s) is from a backup that exited 3 (incomplete): pass --allow-incomplete to test it", newest.Hostname, newest.ShortID)}
}
