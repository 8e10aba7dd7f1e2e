package restoretest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Hosts lists the hosts the repository holds snapshots of (valid host
// names only). A repository that cannot be listed, or holds none, is an
// error: for the restore test, a failed one.
func Hosts(ctx context.Context, repo restic.Repo) ([]string, error) {
	snaps, err := repo.Snapshots(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("--pick oldest: list the repository's hosts: %w", err)
	}
	seen := map[string]bool{}
	var hosts []string
	for _, s := range snaps {
		if status.ValidateHost(s.Hostname) == nil && !seen[s.Hostname] {
			seen[s.Hostname] = true
			hosts = append(hosts, s.Hostname)
		}
	}
	if len(hosts) == 0 {
		return nil, errors.New("--pick oldest: the repository holds no snapshot of any host")
	}
	return hosts, nil
}

// Oldest is the host of hosts whose backup was restore-tested least
// recently by the records in checks: one never tested first (by name),
// else the oldest test.
func Oldest(ctx context.Context, checks Store, hosts []string) (string, error) {
	best, bestSet := "", false
	var bestAt status.RestoreTest
	for _, h := range hosts {
		data, err := checks.Get(ctx, h)
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
	if !bestSet {
		return "", errors.New("--pick oldest: no host to pick")
	}
	return best, nil
}

// SkipIncomplete makes Snapshot "latest" pass over a snapshot that its
// host's record says was made by a backup that exited 3 (some files could
// not be read): restic marks such a snapshot nowhere in the repository (not
// 0.14, not 0.19), so the record `run` wrote (exit_code 3 beside its
// snapshot_id) is the only witness. The snapshot before it of the same
// host is tested instead. A listing that outlived the Repo's Timeout is
// returned (wrapping restic.ErrTimeout). A record that cannot be read (the restore
// tester's policy need not read hosts' records) leaves the choice alone.
func (t *Test) SkipIncomplete(ctx context.Context, log *slog.Logger) error {
	if t.Snapshot != "latest" || t.Records == nil {
		return nil
	}
	snaps, err := t.Repo.Snapshots(ctx, t.SnapshotHost)
	if errors.Is(err, restic.ErrTimeout) {
		return err
	}
	if err != nil || len(snaps) == 0 {
		return nil // the test says why
	}
	sort.SliceStable(snaps, func(i, j int) bool { return snaps[i].Time.After(snaps[j].Time) })
	newest := snaps[0]
	data, err := t.Records.Get(ctx, newest.Hostname)
	if err != nil {
		if !errors.Is(err, status.ErrNotFound) {
			log.Warn("cannot tell whether the latest snapshot is incomplete: the host's record is not readable", "host", newest.Hostname, "err", err)
		}
		return nil
	}
	rec := status.Parse(newest.Hostname, data)
	if rec.ExitCode == nil || *rec.ExitCode != restic.ExitIncomplete || len(rec.SnapshotID) < 8 || !strings.HasPrefix(newest.ID, rec.SnapshotID) {
		return nil
	}
	for _, s := range snaps[1:] {
		if s.Hostname == newest.Hostname {
			log.Warn("skipping the latest snapshot: its backup exited 3 (incomplete); testing the one before it (--allow-incomplete tests it)",
				"host", newest.Hostname, "skipped", newest.ShortID, "snapshot", s.ShortID)
			t.Snapshot, t.SnapshotHost = s.ID, newest.Hostname
			return nil
		}
	}
	return &InputError{fmt.Errorf("the only snapshot of %s (%s) is from a backup that exited 3 (incomplete): pass --allow-incomplete to test it", newest.Hostname, newest.ShortID)}
}
