// Package backuprun runs a backup program as a child: its output passed
// through and appended to the backup log with a timestamp per line, secrets
// scrubbed, signals forwarded, and its outcome reported the way a shell
// would (128+n for a signal).
package backuprun

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golemtrust/backupwatch/internal/proctree"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Options describe one run.
type Options struct {
	Args   []string // the command and its arguments
	Env    []string // the child's environment; this process's when nil
	Dir    string
	Stdin  io.Reader // an *os.File is passed as it is; another reader must reach EOF for Run to return
	Stdout io.Writer // pass-through of the child's stdout (scrubbed)
	Stderr io.Writer // pass-through of the child's stderr (scrubbed)
	// Log receives every line of both streams with a timestamp and the
	// stream's name; nil for none. Writes are whole lines.
	Log io.Writer
	// Output receives the same lines as Log, its errors ignored: the
	// tail of the output for a ping (internal/ping.Tail). nil for none.
	Output io.Writer
	Scrub  func(string) string
	// OnStdout sees every stdout line (without its newline, scrubbed),
	// e.g. to find restic's --json summary.
	OnStdout func(line string)
	// OnStderr sees every stderr line (scrubbed), e.g. to find restic's
	// VSS failures, however many lines follow them.
	OnStderr func(line string)
	// Signals are forwarded to the child as they arrive.
	Signals <-chan os.Signal
	// TailLines is how many of the last stderr lines are kept; 5 if zero.
	TailLines int
	Now       func() time.Time
	// SysProcAttr is given to the child, with a parent-death signal added
	// on Linux: the child dies with this process.
	SysProcAttr *syscall.SysProcAttr
	// TreeGrace is how long, on Windows, the child has to end after a
	// signal before its whole process tree is killed; 30s if zero.
	TreeGrace time.Duration
}

// Result is how the child ended.
type Result struct {
	ExitCode  int            // the child's status, 128+n when killed by signal n
	Signal    syscall.Signal // the signal that killed it, 0 if none
	Forwarded os.Signal      // the first signal forwarded to it, nil if none
	Started   time.Time
	Ended     time.Time
	Tail      []string // last lines of its stderr, scrubbed
	// LogErr is the first error writing to Log; the lines after it were
	// not logged (the run went on: the backup matters more than its log).
	LogErr error
}

// Duration is how long the child ran.
func (r Result) Duration() time.Duration { return r.Ended.Sub(r.Started) }

// maxLine bounds one line: a longer one is passed on in pieces.
const maxLine = 64 << 10

// waitDelay bounds how long output is awaited after the child exits, when
// a grandchild holds its pipes open.
const waitDelay = 10 * time.Second

// Run runs the child to its end. The error is only for a child that could
// not be started; how it ended is in Result.
func Run(o Options) (Result, error) {
	if len(o.Args) == 0 {
		return Result{ExitCode: -1}, errors.New("no command to run")
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	scrub := o.Scrub
	if scrub == nil {
		scrub = func(s string) string { return s }
	}
	tailN := o.TailLines
	if tailN <= 0 {
		tailN = 5
	}
	log := &logWriter{w: o.Log, now: now}
	out := &logWriter{w: o.Output, now: now, keepGoing: true}

	cmd := exec.Command(o.Args[0], o.Args[1:]...)
	cmd.Env = o.Env
	cmd.Dir = o.Dir
	cmd.Stdin = o.Stdin
	cmd.SysProcAttr = dieWithParent(o.SysProcAttr)
	cmd.WaitDelay = waitDelay
	tail := &tailLines{n: tailN}
	stdout := &lineWriter{stream: "stdout", pass: o.Stdout, log: log, out: out, scrub: scrub, hook: o.OnStdout}
	errHook := tail.add
	if o.OnStderr != nil {
		errHook = func(line string) { tail.add(line); o.OnStderr(line) }
	}
	stderr := &lineWriter{stream: "stderr", pass: o.Stderr, log: log, out: out, scrub: scrub, hook: errHook}
	cmd.Stdout, cmd.Stderr = stdout, stderr

	// The parent-death signal is sent when the thread that started the
	// child ends, not the process: that thread is kept until the child ends.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res := Result{Started: now()}
	if err := cmd.Start(); err != nil {
		res.Ended, res.ExitCode = now(), 127
		if !errors.Is(err, exec.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
			res.ExitCode = 126 // as a shell: found but not runnable
		}
		// The program's path is in the message twice (exec's error names
		// it too); a path can hold a secret as well as anything else.
		err = errors.New(scrub(fmt.Sprintf("start %s: %v", o.Args[0], err)))
		log.line("backupwatch", err.Error())
		out.line("backupwatch", err.Error())
		return res, err
	}

	// On Windows the child and every process it starts are held in a job
	// object, killed whole when backupwatch ends however it ends, and
	// after a signal the child did not end on (proctree).
	tree, terr := proctree.Hold(cmd.Process)
	if terr != nil {
		said := scrub(fmt.Sprintf("the processes of %s are not held together, a kill may leave some: %v", o.Args[0], terr))
		log.line("backupwatch", said)
		out.line("backupwatch", said)
	}
	defer tree.Close()
	grace := o.TreeGrace
	if grace <= 0 {
		grace = 30 * time.Second
	}
	var killTree *time.Timer

	done := make(chan struct{})
	var fwdMu sync.Mutex
	go func() {
		for {
			select {
			case <-done:
				return
			case sig, ok := <-o.Signals:
				if !ok {
					return
				}
				fwdMu.Lock()
				if res.Forwarded == nil {
					res.Forwarded = sig
				}
				fwdMu.Unlock()
				said := scrub(fmt.Sprintf("received %v, passing it to %s (pid %d)", sig, o.Args[0], cmd.Process.Pid))
				log.line("backupwatch", said)
				out.line("backupwatch", said)
				err := cmd.Process.Signal(sig)
				fwdMu.Lock()
				if err != nil && tree != nil && killTree == nil {
					// Windows sends no signal: the child shares the
					// console and had the event itself, or has none
					// (Task Scheduler) and never will. It has the grace
					// to end as on Ctrl+C (restic removes its lock),
					// then its tree is killed.
					killTree = time.AfterFunc(grace, func() {
						said := fmt.Sprintf("%s did not end within %s of %v: killing it and every process it started", o.Args[0], grace, sig)
						log.line("backupwatch", scrub(said))
						out.line("backupwatch", scrub(said))
						tree.Kill()
					})
				}
				fwdMu.Unlock()
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	fwdMu.Lock()
	if killTree != nil {
		killTree.Stop()
	}
	fwdMu.Unlock()
	stdout.flush()
	stderr.flush()
	fwdMu.Lock()
	defer fwdMu.Unlock()
	res.Ended = now()
	res.Tail = tail.lines()
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = ws.Signal()
		res.ExitCode = 128 + int(res.Signal)
	}
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		// Output could not be copied to the end (exec.ErrWaitDelay): the
		// status is still the child's.
		log.line("backupwatch", "output: "+scrub(err.Error()))
		out.line("backupwatch", "output: "+scrub(err.Error()))
	}
	res.LogErr = log.error()
	return res, nil
}

// logWriter writes timestamped lines, one write per line, to the log.
type logWriter struct {
	mu        sync.Mutex
	w         io.Writer
	now       func() time.Time
	err       error // first write error; later lines are dropped
	keepGoing bool  // errors ignored, every line written
}

func (l *logWriter) line(stream, text string) {
	if l == nil || l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	_, err := io.WriteString(l.w, status.FormatTime(l.now())+" "+stream+": "+text+"\n")
	if !l.keepGoing {
		l.err = err
	}
}

func (l *logWriter) error() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Line writes one line of backupwatch's own to the log.
func Line(w io.Writer, now time.Time, text string) error {
	_, err := io.WriteString(w, status.FormatTime(now)+" backupwatch: "+text+"\n")
	return err
}

// lineWriter splits a stream into lines, scrubs them and hands them on.
type lineWriter struct {
	stream string
	pass   io.Writer
	log    *logWriter
	out    *logWriter
	scrub  func(string) string
	hook   func(string)
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) >= maxLine {
				w.emit(string(w.buf), false)
				w.buf = w.buf[:0]
			}
			return len(p), nil
		}
		w.emit(string(w.buf[:i]), true)
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(string(w.buf), false)
		w.buf = nil
	}
}

func (w *lineWriter) emit(line string, newline bool) {
	line = strings.TrimSuffix(line, "\r")
	clean := w.scrub(line)
	if w.pass != nil {
		if newline {
			io.WriteString(w.pass, clean+"\n")
		} else {
			io.WriteString(w.pass, clean)
		}
	}
	w.log.line(w.stream, clean)
	w.out.line(w.stream, clean)
	if w.hook != nil {
		w.hook(clean)
	}
}

// tailLines keeps the last n non-empty lines.
type tailLines struct {
	mu   sync.Mutex
	n    int
	keep []string
}

func (t *tailLines) add(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.keep = append(t.keep, status.Truncate(line, 512))
	if len(t.keep) > t.n {
		t.keep = t.keep[len(t.keep)-t.n:]
	}
}

func (t *tailLines) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.keep...)
}
