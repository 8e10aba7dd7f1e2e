package restic

import (
	"bufio"
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
// were.
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
	n, derr := DecodeSnapshots(bufio.NewReaderSize(pr, 256<<10), fn)
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
// or null), handing each snapshot to fn; it returns how many.
func DecodeSnapshots(rd io.Reader, fn func(Snapshot)) (int64, error) {
	dec := json.NewDecoder(rd)
	tok, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("restic snapshots: unexpected output: %w", err)
	}
	if tok == nil { // null: none
		return 0, nil
	}
	if tok != json.Delim('[') {
		return 0, fmt.Errorf("restic snapshots: unexpected output: %v, not a list", tok)
	}
	var n int64
	for dec.More() {
		var s Snapshot
		if err := dec.Decode(&s); err != nil {
			return n, fmt.Errorf("restic snapshots: unexpected output after %d snapshots: %w", n, err)
		}
		fn(s)
		n++
	}
	if _, err := dec.Token(); err != nil {
		return n, fmt.Errorf("restic snapshots: unexpected output after %d snapshots: %w", n, err)
	}
	return n, nil
}
