package restic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// EachSnapshot lists the repository's snapshots as Snapshots does, but
// hands each to fn as it is decoded from restic's output, never holding
// the listing: memory stays that of one snapshot whatever their number,
// and the decoding runs while restic writes. It returns how many there
// were. Their Paths are left out (nil): a listing's reader counts, dates
// and tags snapshots, and paths would be most of what it allocates.
func (r Repo) EachSnapshot(ctx context.Context, host string, fn func(Snapshot)) (int64, error) {
	args := []string{"snapshots", "--json", "--no-lock"}
	if host != "" {
		args = append(args, "--host", host)
	}
	pr, pw := io.Pipe()
	ran := make(chan error, 1)
	go func() {
		err := r.run(ctx, &limitWriter{w: pw, n: maxSnapshotsOutput}, args...)
		pw.CloseWithError(err) // nil: the decoder sees the end
		ran <- err
	}()
	n, derr := decodeSnapshots(&snapDecoder{src: pr, noPaths: true}, fn)
	// Unblock restic's writer if the decoding stopped early: its output is
	// then what failed, not restic.
	pr.CloseWithError(errNotRead)
	rerr := <-ran
	switch {
	case derr != nil && (rerr == nil || !errors.Is(derr, rerr)):
		// The output failed first; restic's end (a broken pipe) follows.
		return n, derr
	case rerr != nil && !errors.Is(rerr, errNotRead):
		return n, rerr
	}
	return n, derr
}

// errNotRead ends a listing whose output could not be decoded.
var errNotRead = errors.New("listing not read further")

// DecodeSnapshots decodes restic snapshots --json from rd (a JSON array,
// or null), handing each snapshot to fn; it returns how many. It accepts
// and decodes what encoding/json would (FuzzDecodeSnapshotsAsJSON holds it
// to that) at a fraction of its cost: snapDecoder.
func DecodeSnapshots(rd io.Reader, fn func(Snapshot)) (int64, error) {
	return decodeSnapshots(&snapDecoder{src: rd}, fn)
}

func decodeSnapshots(d *snapDecoder, fn func(Snapshot)) (int64, error) {
	d.buf, d.interned = make([]byte, 0, 256<<10), map[string]string{}
	c, err := d.space()
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			err = io.EOF // nothing at all
		}
		return 0, fmt.Errorf("restic snapshots: unexpected output: %w", err)
	}
	switch c {
	case 'n': // null: none
		if err := d.literal("null"); err != nil {
			return 0, fmt.Errorf("restic snapshots: unexpected output: %w", err)
		}
		return 0, nil
	case '[':
		d.pos++
	case '{':
		return 0, errors.New("restic snapshots: unexpected output: an object, not a list")
	default:
		if _, err := d.value(0); err != nil {
			return 0, fmt.Errorf("restic snapshots: unexpected output: %w", err)
		}
		return 0, fmt.Errorf("restic snapshots: unexpected output: %q..., not a list", c)
	}
	var n int64
	for {
		c, err := d.space()
		if err != nil {
			return n, fmt.Errorf("restic snapshots: unexpected output after %d snapshots: %w", n, err)
		}
		if c == ']' {
			return n, nil
		}
		if n > 0 {
			if c != ',' {
				return n, fmt.Errorf("restic snapshots: unexpected output after %d snapshots: %w", n, d.bad(c, "after array element"))
			}
			d.pos++
		}
		s, err := d.snapshot()
		if err != nil {
			return n, fmt.Errorf("restic snapshots: unexpected output after %d snapshots: %w", n, err)
		}
		fn(s)
		n++
	}
}
