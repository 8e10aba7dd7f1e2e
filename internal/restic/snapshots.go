package restic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// maxSnapshotsOutput bounds what `restic snapshots --json` may print: some
// 100,000 snapshots.
const maxSnapshotsOutput = 256 << 20

// Snapshots lists every snapshot in the repository (restic snapshots
// --json --no-lock: a listing needs no lock, so read-only credentials do),
// restricted to host when it is set.
func (r Repo) Snapshots(ctx context.Context, host string) ([]Snapshot, error) {
	args := []string{"snapshots", "--json", "--no-lock"}
	if host != "" {
		args = append(args, "--host", host)
	}
	var out bytes.Buffer
	if err := r.run(ctx, &limitWriter{w: &out, n: maxSnapshotsOutput}, args...); err != nil {
		return nil, err
	}
	var snaps []Snapshot
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &snaps); err != nil {
		return nil, fmt.Errorf("restic snapshots: unexpected output: %w", err)
	}
	return snaps, nil
}

// CheckOptions choose what restic check reads.
type CheckOptions struct {
	Subset string // --read-data-subset (n/t, x% or a size); none when ""
	NoLock bool   // --no-lock: for a repository the credentials cannot write
}

// CheckData runs restic check, reading the data subset when one is given.
func (r Repo) CheckData(ctx context.Context, o CheckOptions) error {
	args := []string{"check"}
	if o.Subset != "" {
		args = append(args, "--read-data-subset", o.Subset)
	}
	if o.NoLock {
		args = append(args, "--no-lock")
	}
	return r.run(ctx, nil, args...)
}
