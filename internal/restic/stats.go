package restic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// Stats is what `restic stats --mode raw-data --json` says of a repository.
type Stats struct {
	TotalSize int64 `json:"total_size"` // bytes stored for the blobs the snapshots reference (deduplicated, compressed, encrypted)
	Snapshots int64 `json:"snapshots_count"`
}

// RawDataStats runs restic stats --mode raw-data --no-lock: the size the
// repository's snapshots take as stored, restic's own number. Of restic's
// modes it is the cheapest that counts what is stored rather than what a
// restore would write: it reads the index and each snapshot's trees
// (never the file data); restore-size and files-by-contents walk the same
// trees and count files, blobs-per-file more.
func (r Repo) RawDataStats(ctx context.Context) (Stats, error) {
	var out bytes.Buffer
	if err := r.run(ctx, &limitWriter{w: &out, n: 1 << 20}, "stats", "--mode", "raw-data", "--json", "--no-lock"); err != nil {
		return Stats{}, err
	}
	var s Stats
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &s); err != nil {
		return Stats{}, fmt.Errorf("restic stats: unexpected output: %w", err)
	}
	if s.TotalSize < 0 {
		return Stats{}, fmt.Errorf("restic stats: a negative size %d", s.TotalSize)
	}
	return s, nil
}
