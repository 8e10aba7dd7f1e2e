package repocheck

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Record fields of the repository's size and the space left under it.
const (
	FieldSizeBytes    = "size_bytes"    // the repository's size, measured as FieldSizeSource says
	FieldFreeBytes    = "free_bytes"    // free space under a local repository (a path or a mount)
	FieldSpaceMessage = "space_message" // why the size or the free space is not known
	// The size's time, and the size measured before it with its time: the
	// status page's growth. Prometheus keeps the history for the alerts
	// (predict_linear); the record keeps one step for a person.
	FieldSizeAt        = "size_at"
	FieldSizePrevBytes = "size_previous_bytes"
	FieldSizePrevAt    = "size_previous_at"
	FieldSizeSource    = "size_source" // SizeFiles or SizeStats; none in records written before the files were summed (restic stats)
)

// How a size was measured.
const (
	// SizeFiles: the sum of the sizes of the files under a repository on
	// a local path or a mount (packs, index, snapshots, keys, locks): what
	// it takes of its disk, data that forget left for prune included. A
	// directory walk, no restic call: cheap enough for every check.
	SizeFiles = "files"
	// SizeStats: restic stats --mode raw-data's total_size, the snapshots'
	// blobs as stored (deduplicated, compressed), for other backends. It
	// reads every snapshot's trees: as much CPU as the listing on a large
	// repository, so it runs at most once per Options.SizeEvery.
	SizeStats = "restic-stats"
)

// Space is what a check found of the repository's size and free space.
type Space struct {
	Size    *int64
	Source  string // how Size was measured: SizeFiles or SizeStats
	Free    *int64 // only for a local repository
	Message string // what could not be measured, and why
	// As read from a record: when Size was measured, and the size measured
	// before it (nil when none) and when.
	SizeAt   time.Time
	PrevSize *int64
	PrevAt   time.Time
	// Kept: Size is not measured by this check but kept from the record
	// (measured at SizeAt, within Options.SizeEvery), with its growth.
	Kept bool
}

// keptSize is the size the record old holds, with its time and the size
// before it, when the check at now keeps it rather than run restic stats
// again: it was measured less than opts.SizeEvery ago. A size never
// measured, dropped by the last check (it failed, or --no-size), or dated
// after now is measured again.
func keptSize(old map[string]any, now time.Time, opts Options) (Space, bool) {
	if opts.NoSize || opts.SizeEvery <= 0 || old == nil {
		return Space{}, false
	}
	rec := parseSpace(old, func(string) {})
	if rec.Size == nil || rec.SizeAt.IsZero() || rec.SizeAt.After(now) || now.Sub(rec.SizeAt) >= opts.SizeEvery {
		return Space{}, false
	}
	return Space{Size: rec.Size, Source: rec.Source, SizeAt: rec.SizeAt, PrevSize: rec.PrevSize, PrevAt: rec.PrevAt}, true
}

// Growth is the size's change since the size measured before it, and over
// how long; ok is false when either is not known.
func (sp Space) Growth() (bytes int64, over time.Duration, ok bool) {
	if sp.Size == nil || sp.PrevSize == nil || sp.SizeAt.IsZero() || sp.PrevAt.IsZero() || !sp.SizeAt.After(sp.PrevAt) {
		return 0, 0, false
	}
	return *sp.Size - *sp.PrevSize, sp.SizeAt.Sub(sp.PrevAt), true
}

// LocalPath is the directory of a repository on a local path or a mount
// (a plain path or local:path), "" for any other backend.
func LocalPath(location string) string {
	loc := strings.TrimPrefix(location, "local:")
	if !filepath.IsAbs(loc) {
		return ""
	}
	return filepath.Clean(loc)
}

// measure reads the repository's size (its files' for a local
// repository, else restic stats) and, for a local repository, the space
// free to an unprivileged writer under it. sp is what is known before: the
// size kept from the record, when size is false because it is recent
// enough.
func measure(ctx context.Context, repo restic.Repo, call func(func(context.Context) error) error, size bool, sp Space) Space {
	var msgs []string
	dir := LocalPath(repo.Repository)
	var n int64
	switch {
	case !size:
		// Not measured, by choice: no size, and no message.
	case dir != "":
		if err := call(func(ctx context.Context) (err error) {
			n, err = filesSize(ctx, dir)
			return err
		}); err != nil {
			msgs = append(msgs, fmt.Sprintf("size of the files under %s: %v", dir, err))
		} else {
			sp.Size, sp.Source = &n, SizeFiles
		}
	default:
		var st restic.Stats
		if err := call(func(ctx context.Context) (err error) {
			st, err = repo.RawDataStats(ctx)
			return err
		}); err != nil {
			msgs = append(msgs, "size: "+err.Error())
		} else {
			sp.Size, sp.Source = &st.TotalSize, SizeStats
		}
	}
	sp.Kept = !size && sp.Size != nil
	if dir != "" {
		if free, err := freeBytes(dir); err != nil {
			msgs = append(msgs, fmt.Sprintf("free space under %s: %v", dir, err))
		} else {
			sp.Free = &free
		}
	}
	sp.Message = strings.Join(msgs, "; ")
	return sp
}

func applySpace(doc map[string]any, sp *Space, at time.Time) {
	oldSize, oldAt, oldSource := str(doc[FieldSizeBytes]), str(doc[FieldSizeAt]), str(doc[FieldSizeSource])
	for _, f := range []string{FieldSizeBytes, FieldFreeBytes, FieldSpaceMessage, FieldSizeAt, FieldSizePrevBytes, FieldSizePrevAt, FieldSizeSource} {
		delete(doc, f)
	}
	if sp == nil {
		return
	}
	switch {
	case sp.Size != nil && sp.Kept:
		// Not measured again: the size, its time and its growth as they were.
		doc[FieldSizeBytes] = strconv.FormatInt(*sp.Size, 10)
		doc[FieldSizeAt] = status.FormatTime(sp.SizeAt)
		doc[FieldSizeSource] = sizeSource(sp.Source)
		if sp.PrevSize != nil && !sp.PrevAt.IsZero() {
			doc[FieldSizePrevBytes] = strconv.FormatInt(*sp.PrevSize, 10)
			doc[FieldSizePrevAt] = status.FormatTime(sp.PrevAt)
		}
	case sp.Size != nil:
		doc[FieldSizeBytes] = strconv.FormatInt(*sp.Size, 10)
		doc[FieldSizeAt] = status.FormatTime(at)
		doc[FieldSizeSource] = sizeSource(sp.Source)
		// Sizes measured two ways differ by more than growth: no growth
		// across a change of source.
		if oldSize != "" && oldAt != "" && sizeSource(oldSource) == sizeSource(sp.Source) {
			doc[FieldSizePrevBytes], doc[FieldSizePrevAt] = oldSize, oldAt
		}
	}
	if sp.Free != nil {
		doc[FieldFreeBytes] = strconv.FormatInt(*sp.Free, 10)
	}
	if sp.Message != "" {
		doc[FieldSpaceMessage] = status.Truncate(oneLine(sp.Message), 500)
	}
}

func parseSpace(data map[string]any, problem func(string)) Space {
	var sp Space
	for f, dst := range map[string]**int64{FieldSizeBytes: &sp.Size, FieldFreeBytes: &sp.Free, FieldSizePrevBytes: &sp.PrevSize} {
		n, err := count(data[f])
		if err != nil {
			problem(f + ": " + err.Error())
			continue
		}
		*dst = n
	}
	for f, dst := range map[string]*time.Time{FieldSizeAt: &sp.SizeAt, FieldSizePrevAt: &sp.PrevAt} {
		if s := str(data[f]); s != "" {
			t, err := status.ParseTime(s)
			if err != nil {
				problem(f + ": " + err.Error())
				continue
			}
			*dst = t
		}
	}
	if sp.Size != nil {
		sp.Source = sizeSource(str(data[FieldSizeSource]))
	}
	if sp.Message = status.Truncate(str(data[FieldSpaceMessage]), 1024); sp.Message != "" {
		problem("space not measured: " + sp.Message)
	}
	return sp
}

// sizeSource is how a size was measured: SizeStats for a size given none
// (records written before the files were summed, and tests' sizes) or one
// not known.
func sizeSource(s string) string {
	if s == SizeFiles {
		return SizeFiles
	}
	return SizeStats
}
