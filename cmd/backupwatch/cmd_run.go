package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

type runOptions struct {
	host     string
	hostSet  bool // --host given, perhaps empty
	logFile  string
	exit3    string
	lockFile string
	args     []string
	jobs     jobFlags

	// Set by tests; the process's own when zero.
	env     []string
	stdin   io.Reader
	signals <-chan os.Signal
}

func addRunCommand(app *kingpin.Application, g *globals) command {
	o := &runOptions{}
	c := app.Command("run", "Run a backup program (e.g. `backupwatch run -- restic backup --json /srv`): its output passed through and logged, its start and outcome (and restic's summary) recorded; exits with its status.")
	c.Flag("host", "Host the backup is of; default: this machine's short host name.").IsSetByUser(&o.hostSet).StringVar(&o.host)
	c.Flag("log.file", "Append the program's output to this file, a timestamp per line; empty for none. The default is the runbook's log, the one the alerts tell people to check.").Default("/var/log/restic-backup.log").StringVar(&o.logFile)
	c.Flag("restic.exit3", "How restic's exit code 3 (snapshot made, some files unreadable) is recorded: failed (the default), or success with a warning.").PlaceHolder("failed|success").Default(status.Failed).EnumVar(&o.exit3, status.Failed, status.Success)
	c.Flag("lock.file", "Lock file refusing a second overlapping run of the same job; default: <host>.lock (<host>@<job>.lock with --job) in /run/lock/backupwatch (root) or the runtime directory.").StringVar(&o.lockFile)
	o.jobs.add(c, true)
	c.Arg("command", "The backup program and its arguments, after --.").Required().StringsVar(&o.args)
	return command{c, func(ctx context.Context) error { return runRun(ctx, g, o) }}
}

// recordTimeout bounds recording after the child has ended: the run may
// have been interrupted, and its outcome must still be written or spooled.
const recordTimeout = 2 * time.Minute

func runRun(ctx context.Context, g *globals, o *runOptions) error {
	if len(o.args) == 0 || o.args[0] == "" {
		return usageError{errors.New("no command to run: give it after --, e.g. backupwatch run -- restic backup /srv")}
	}
	// Signals are caught from the start: one that arrives before the
	// program starts is passed to it as soon as it does.
	signals := o.signals
	if signals == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(ch)
		signals = ch
	}
	host, err := resolveHost(o.host, o.hostSet)
	if err != nil {
		return err
	}
	job, sched, err := o.jobs.resolve()
	if err != nil {
		return err
	}
	env := o.env
	if env == nil {
		env = os.Environ()
	}
	scrubber := backuprun.NewScrubber(env, o.args)
	g = g.withScrubber(scrubber)
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	scrubStoreSecrets(st, scrubber)
	scrub := scrubber.Scrub
	// Recording outlives a SIGINT/SIGTERM that cancels ctx: the outcome of
	// an interrupted run is exactly what must not be lost.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	dlv, err := newDeliverer(g, st)
	if err != nil {
		return err
	}
	record := func(res status.Result, r spool.Retry) (spooled bool, err error) {
		res.Message = scrub(res.Message)
		res.Job, res.Schedule = job, sched
		d, err := dlv.Deliver(rctx, spool.Entry{Result: &res}, r)
		if d.Spooled != "" {
			g.logger.Warn("store unavailable: result kept in the spool", "host", host, "file", d.Spooled, "err", d.StoreErr)
		}
		return d.Spooled != "", err
	}

	var logw io.Writer
	if o.logFile != "" {
		f, err := os.OpenFile(o.logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			// The backup matters more than its log.
			g.logger.Warn("backup log unusable: running without it", "file", o.logFile, "err", err)
		} else {
			defer f.Close()
			logw = f
		}
	}
	logLine := func(text string) {
		if logw != nil {
			backuprun.Line(logw, time.Now(), text)
		}
	}

	lockName := host // one run at a time per host, or per job
	if job != "" {
		lockName = host + "@" + job
	}
	lock, err := lockRun(o.lockFile, lockName)
	if err != nil {
		err = fmt.Errorf("run for host %s refused: %w", host, err)
		if errors.Is(err, backuprun.ErrLocked) {
			err = fmt.Errorf("%w; not starting %s", err, filepath.Base(o.args[0]))
		}
		logLine(scrub(err.Error()))
		res := status.Result{Host: host, Outcome: status.Failed, At: time.Now(), Message: status.Truncate(err.Error(), maxRunMessage)}
		if _, rerr := record(res, g.spool.retryPolicy()); rerr != nil {
			g.logger.Error("could not record the refused run", "host", host, "err", rerr)
		}
		return &exitCode{code: exitError, err: err}
	}
	defer lock.Unlock()

	started := time.Now()
	// The attempt is tried once: the backup is not held up by a store
	// that is down; the spool keeps it.
	if _, err := record(status.Result{Host: host, At: started}, spool.Retry{Attempts: 1}); err != nil {
		g.logger.Error("could not record the start of the run", "host", host, "err", err)
	}
	logLine(fmt.Sprintf("run of host %s started: %s", host, scrub(strings.Join(o.args, " "))))
	g.logger.Info("backup started", "host", host, "command", filepath.Base(o.args[0]))

	stdin := o.stdin
	if stdin == nil {
		stdin = os.Stdin
	}
	var summary *restic.Summary
	var savedID string // restic without --json names the snapshot only
	r, startErr := backuprun.Run(backuprun.Options{
		Args: o.args, Env: o.env, Stdin: stdin,
		Stdout: g.stdout, Stderr: g.stderr, Log: logw,
		Scrub: scrub,
		OnStdout: func(line string) {
			if s, ok := restic.ParseSummary([]byte(line)); ok {
				summary = &s
			} else if id, ok := restic.ParseSnapshotSaved(line); ok {
				savedID = id
			}
		},
		Signals: signals,
	})
	if r.LogErr != nil {
		g.logger.Warn("backup log incomplete: lines after this error were not written", "file", o.logFile, "err", r.LogErr)
	}
	if summary == nil && savedID != "" {
		summary = &restic.Summary{SnapshotID: savedID}
	}
	res := runOutcome(host, r, startErr, summary, o.exit3)
	spooled, rerr := record(res, g.spool.retryPolicy())
	where := "recorded"
	switch {
	case rerr != nil:
		where = "NOT recorded"
		g.logger.Error("could not record the outcome", "host", host, "status", res.Outcome, "err", rerr)
	case spooled:
		where = "kept in the spool"
	}
	logLine(fmt.Sprintf("run of host %s ended: exit status %d after %s; %s %s", host, r.ExitCode, r.Duration().Round(time.Millisecond), res.Outcome, where))
	g.logger.Info("backup ended", "host", host, "status", res.Outcome, "exit_code", r.ExitCode, "duration", r.Duration().Round(time.Millisecond), "recorded", where)

	switch {
	case r.ExitCode != 0:
		// A program that could not start says why, not only 126 or 127.
		return &exitCode{code: r.ExitCode, err: errors.Join(startErr, rerr)}
	case rerr != nil:
		return rerr
	}
	return nil
}

// maxRunMessage bounds the message recorded for a run; the store bounds it
// again.
const maxRunMessage = 900

// runOutcome turns how the child ended into the result to record.
func runOutcome(host string, r backuprun.Result, startErr error, sum *restic.Summary, exit3 string) status.Result {
	res := status.Result{Host: host, Outcome: status.Failed, At: r.Ended}
	code := int64(r.ExitCode)
	res.ExitCode = &code
	secs := r.Duration().Seconds()
	if sum != nil && sum.TotalDuration > 0 {
		secs = sum.TotalDuration
	}
	res.Duration = &secs
	if sum != nil {
		res.Extra = sum.Fields()
	}
	var what string
	switch {
	case startErr != nil:
		what = startErr.Error()
	case r.ExitCode == 0:
		res.Outcome = status.Success
		return res
	case r.Forwarded != nil:
		what = fmt.Sprintf("interrupted by %s (exit status %d)", signalName(r.Forwarded), r.ExitCode)
	case r.Signal != 0:
		what = "killed by " + signalName(r.Signal)
	case r.ExitCode == restic.ExitIncomplete && exit3 == status.Success:
		res.Outcome = status.Success
		what = "warning: exit status 3: snapshot made, but some files could not be read"
	case r.ExitCode == restic.ExitIncomplete:
		what = "incomplete backup: exit status 3: snapshot made, but some files could not be read"
	default:
		what = "exit status " + strconv.Itoa(r.ExitCode)
	}
	res.Message = boundMessage(what, r.Tail)
	return res
}

// boundMessage is what happened, then as many of the last error lines as
// fit, the latest kept first when something must go.
func boundMessage(what string, tail []string) string {
	what = status.Truncate(what, maxRunMessage/2)
	var lines []string
	room := maxRunMessage - len(what)
	for i := len(tail) - 1; i >= 0; i-- {
		l := restic.HumanError(tail[i])
		if len(l)+1 > room {
			if room > 40 {
				lines = append(lines, status.Truncate(l, room-4))
			}
			break
		}
		lines = append(lines, l)
		room -= len(l) + 1
	}
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	if len(lines) == 0 {
		return what
	}
	return what + "\n" + strings.Join(lines, "\n")
}

// signalName names a signal as operators write it: SIGTERM, not "terminated".
func signalName(s os.Signal) string {
	sig, ok := s.(syscall.Signal)
	if !ok {
		return s.String()
	}
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGABRT: "SIGABRT", syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV",
		syscall.SIGPIPE: "SIGPIPE", syscall.SIGTERM: "SIGTERM", syscall.SIGUSR1: "SIGUSR1",
		syscall.SIGUSR2: "SIGUSR2", syscall.SIGBUS: "SIGBUS", syscall.SIGXCPU: "SIGXCPU",
	}
	if n, ok := names[sig]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// lockRun takes the run's lock: path, or the host's default.
func lockRun(path, host string) (*backuprun.Lock, error) {
	if path == "" {
		var err error
		if path, err = defaultLockPath(host); err != nil {
			return nil, err
		}
	}
	return backuprun.TryLock(path)
}

// defaultLockPath is a lock per host (per job): /run/lock for root, the
// user's runtime directory otherwise, or a private directory in /tmp.
func defaultLockPath(host string) (string, error) {
	name := host + ".lock"
	if os.Geteuid() == 0 {
		return filepath.Join("/run/lock/backupwatch", name), nil
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "backupwatch", name), nil
	}
	dir := filepath.Join(os.TempDir(), "backupwatch-"+strconv.Itoa(os.Getuid()))
	if err := ownDir(dir); err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// ownDir makes dir, in a directory every user can write to, this user's
// own, and refuses it when it is not: another user who made it first
// could hold the lock forever, or plant files in it.
func ownDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("lock directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("lock directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("lock directory %s is not this user's own private directory: remove it, or give --lock.file", dir)
	}
	return nil
}
