package restic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golemtrust/backupwatch/internal/proctree"
)

// Repo runs restic against one repository.
type Repo struct {
	Binary       string   // "restic" if empty
	Repository   string   // passed as RESTIC_REPOSITORY; the environment's when empty
	PasswordFile string   // passed as --password-file when set
	Env          []string // the child's environment; this process's when nil
	// Scrub removes secrets from restic's messages before they go into
	// an error; nil keeps them as they are.
	Scrub func(string) string
	// Timeout bounds each restic call when positive: a restic that hangs
	// (a dead mount, an unreachable backend) ends in an error wrapping
	// ErrTimeout, never a call that never returns.
	Timeout time.Duration
}

// ErrTimeout is wrapped by the error of a restic call that outlived the
// Repo's Timeout.
var ErrTimeout = errors.New("restic gave no answer in time")

// Snapshot is a snapshot as `restic snapshots --json` lists it.
type Snapshot struct {
	ID       string    `json:"id"`
	ShortID  string    `json:"short_id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths"`
	Tags     []string  `json:"tags"`
}

// LookPath finds the restic binary, with a message saying how to get it.
func (r Repo) LookPath() (string, error) {
	bin := r.Binary
	if bin == "" {
		bin = "restic"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("restic not found (%s): install it (apt-get install restic, or `make deps`) or pass --restic.binary", bin)
	}
	return p, nil
}

func (r Repo) command(ctx context.Context, args ...string) (*exec.Cmd, error) {
	bin, err := r.LookPath()
	if err != nil {
		return nil, err
	}
	var full []string
	if r.PasswordFile != "" {
		full = append(full, "--password-file", r.PasswordFile)
	}
	full = append(full, "--no-cache")
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = r.Env
	if r.Repository != "" {
		// In the environment, not on the command line, which every user
		// can read: a repository URL may hold a password (rest:, s3:).
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(slices.Clip(cmd.Env), "RESTIC_REPOSITORY="+r.Repository)
	}
	cmd.Stdin = nil // never prompt: a missing password is an error, not a hang
	// Interrupted, restic is asked to stop as on Ctrl-C (run's Cancel),
	// so that it removes its lock from the repository; killed only if it
	// lingers.
	cmd.WaitDelay = 10 * time.Second
	return cmd, nil
}

// run runs restic with args, sending its output to stdout (discarded if
// nil) and keeping the end of its error output for the error.
func (r Repo) run(parent context.Context, stdout io.Writer, args ...string) error {
	ctx := parent
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, r.Timeout)
		defer cancel()
	}
	cmd, err := r.command(ctx, args...)
	if err != nil {
		return err
	}
	if stdout == nil {
		stdout = io.Discard
	}
	tail := &tailBuffer{max: 4 << 10}
	cmd.Stdout = stdout
	cmd.Stderr = tail
	// On Windows no Ctrl+C can be sent to restic alone: a cancelled
	// restic is killed with every process it started (rclone, ssh), held
	// in a job object that also ends them if backupwatch is killed.
	var tree atomic.Pointer[proctree.Tree]
	cmd.Cancel = func() error {
		err := cmd.Process.Signal(os.Interrupt)
		if err != nil && runtime.GOOS == "windows" {
			return tree.Load().Kill()
		}
		return err
	}
	if err = cmd.Start(); err == nil {
		t, _ := proctree.Hold(cmd.Process) // without it, restic alone is killed
		tree.Store(t)
		err = cmd.Wait()
		t.Close()
	}
	if err == nil {
		return nil
	}
	what := "restic " + args[0]
	if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer within %v (--restic.timeout): %w", what, r.Timeout, ErrTimeout)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: interrupted: %w", what, ctx.Err())
	}
	msg := r.scrub(lastLines(tail.String(), 3))
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if msg == "" {
			return fmt.Errorf("%s: %v", what, ee.ProcessState)
		}
		return fmt.Errorf("%s: %v: %s", what, ee.ProcessState, msg)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (r Repo) scrub(s string) string {
	if r.Scrub == nil {
		return s
	}
	return r.Scrub(s)
}

// Snapshot resolves id ("latest" or an id), restricted to host when set.
func (r Repo) Snapshot(ctx context.Context, id, host string) (Snapshot, error) {
	args := []string{"snapshots", "--json"}
	if host != "" {
		args = append(args, "--host", host)
	}
	args = append(args, id)
	var out bytes.Buffer
	if err := r.run(ctx, &limitWriter{w: &out, n: 64 << 20}, args...); err != nil {
		return Snapshot{}, err
	}
	var snaps []Snapshot
	if err := json.Unmarshal(out.Bytes(), &snaps); err != nil {
		return Snapshot{}, fmt.Errorf("restic snapshots: unexpected output: %w", err)
	}
	if len(snaps) == 0 {
		if host != "" {
			return Snapshot{}, fmt.Errorf("no snapshot %s of host %s in the repository", id, host)
		}
		return Snapshot{}, fmt.Errorf("no snapshot %s in the repository", id)
	}
	s := snaps[len(snaps)-1]
	if s.ID == "" {
		return Snapshot{}, errors.New("restic snapshots: a snapshot without an id")
	}
	return s, nil
}

// Restore restores snapshot id (a full id, as Snapshot returns) into
// target, verifying the restored files' content when verify is set.
func (r Repo) Restore(ctx context.Context, id, target string, verify bool) error {
	args := []string{"restore", id, "--target", target}
	if verify {
		args = append(args, "--verify")
	}
	return r.run(ctx, nil, args...)
}

// Check runs restic check; readData also reads every data blob (slow on
// a big repository), subset reads only that part (restic's n/t, x% or size).
func (r Repo) Check(ctx context.Context, readData bool, subset string) error {
	args := []string{"check"}
	switch {
	case subset != "":
		args = append(args, "--read-data-subset", subset)
	case readData:
		args = append(args, "--read-data")
	}
	return r.run(ctx, nil, args...)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if len(t.buf) > t.max {
		return string(t.buf[len(t.buf)-t.max:])
	}
	return string(t.buf)
}

// lastLines returns the last n non-empty lines of s, joined by "; ".
func lastLines(s string, n int) string {
	var keep []string
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			keep = append(keep, HumanError(l))
		}
	}
	for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
		keep[i], keep[j] = keep[j], keep[i]
	}
	return strings.Join(keep, "; ")
}

// limitWriter fails once more than n bytes were written.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errors.New("output too large")
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}
