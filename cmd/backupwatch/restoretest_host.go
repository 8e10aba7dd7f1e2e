package main

import (
	"context"
	"errors"
	"fmt"

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

// pickOldest is the host of the repository whose backup was restore-tested
// least recently: one never tested first (by name), else the oldest test.
func pickOldest(ctx context.Context, g *globals, repo restic.Repo) (string, error) {
	snaps, err := repo.Snapshots(ctx, "")
	if err != nil {
		return "", fmt.Errorf("--pick oldest: list the repository's hosts: %w", err)
	}
	hosts := map[string]bool{}
	for _, s := range snaps {
		if status.ValidateHost(s.Hostname) == nil {
			hosts[s.Hostname] = true
		}
	}
	if len(hosts) == 0 {
		return "", errors.New("--pick oldest: the repository holds no snapshot of any host")
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
