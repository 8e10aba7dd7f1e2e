package backuprun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/ping"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Backup describes one backup run of a host (or job of it).
type Backup struct {
	Host     string
	Job      string             // "" for the host's own record
	Schedule *schedule.Schedule // recorded with each result, nil for none
	Args     []string           // the program and its arguments
	Env      []string           // the program's environment; this process's when nil
	Stdin    io.Reader          // this process's when nil
	Stdout   io.Writer
	Stderr   io.Writer
	// LogFile is the backup log the program's output is appended to;
	// empty for none. A log that cannot be opened is warned about: the
	// backup matters more than its log.
	LogFile string
	Exit3   string // how restic's exit 3 is recorded: status.Failed or status.Success
	// Maintenance records the run as maintenance of the repository
	// (restic forget, prune, check; status.KindMaintenance), never
	// compared with backups.
	Maintenance bool
	// LockFile refuses a second overlapping run; empty for the default,
	// <host>.lock (<host>@<job>.lock) in a private directory (LockPath).
	LockFile string
	LockBase string // parent of the default lock directory; /run/lock when empty
	// Signals are forwarded to the program; nil catches Signals for the
	// run and ignores SIGPIPE from then on (IgnoreBrokenPipe).
	Signals  <-chan os.Signal
	Scrubber *Scrubber
	// Deliver writes a result to the store, or keeps it in the spool.
	Deliver func(ctx context.Context, e spool.Entry, r spool.Retry) (deliver.Delivery, error)
	Retry   spool.Retry // how hard the outcome is delivered
	// Ping, when not nil, tells an outside checker of the start and the
	// end (see Pings); its URL must be among Scrubber's secrets.
	Ping *ping.Pinger
	// SaveLog, when not nil, keeps a failed run's log (the end of its
	// output, scrubbed: status.LogDoc) in the store under key, after
	// its outcome is recorded: the page shows it. nil keeps none.
	SaveLog func(ctx context.Context, key string, doc map[string]any) error
	Logger  *slog.Logger
}

// Run runs the backup: takes the lock, records the start, runs the program
// and records its outcome, which outlives a cancelled ctx (the outcome of
// an interrupted run is exactly what must not be lost). exit is the
// program's status (128+n for a signal), 0 when it did not run; err says
// what else went wrong: the run refused or skipped, the program not
// started, the outcome not recorded, the store refusing the credentials.
func (b *Backup) Run(ctx context.Context) (exit int, err error) {
	if len(b.Args) == 0 || b.Args[0] == "" {
		return 0, errors.New("no command to run")
	}
	signals := b.Signals
	if signals == nil {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, Signals...)
		defer signal.Stop(ch)
		signals = ch
		IgnoreBrokenPipe()
	}
	log := b.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	scrub := b.Scrubber.Scrub
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deliver.RecordTimeout)
	defer cancel()
	var credErr error // the store refuses the credentials: said at the end
	older := false    // the outcome was written, but the record holds a later status
	record := func(res status.Result, r spool.Retry) (spooled bool, err error) {
		res.Message = scrub(res.Message)
		res.Job, res.Schedule = b.Job, b.Schedule
		d, err := b.Deliver(rctx, spool.Entry{Result: &res}, r)
		if d.Spooled != "" {
			log.Warn("store unavailable: result kept in the spool", "host", b.Host, "file", d.Spooled, "err", d.StoreErr)
		}
		if cerr := d.CredentialsErr(); cerr != nil {
			credErr = cerr
		}
		older = d.Older
		return d.Spooled != "", err
	}

	var logw io.Writer
	if b.LogFile != "" {
		f, err := os.OpenFile(b.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			log.Warn("backup log unusable: running without it", "file", b.LogFile, "err", err)
		} else {
			defer f.Close()
			logw = f
		}
	}
	logLine := func(text string) {
		if logw != nil {
			Line(logw, time.Now(), text)
		}
	}

	lock, err := b.lock()
	if errors.Is(err, ErrLocked) {
		// Not a failed backup: the run in progress recorded its start and
		// will record its outcome, and one that never ends is seen from
		// that start (BackupRunningTooLong). Recording anything here would
		// either page for a backup that runs fine or move that start.
		err = fmt.Errorf("run for host %s skipped, nothing recorded: %w; not starting %s", b.Host, err, filepath.Base(b.Args[0]))
		logLine(scrub(err.Error()))
		log.Warn("run skipped: another run of this job is in progress", "host", b.Host, "err", err)
		return 0, err
	}
	if err != nil {
		err = fmt.Errorf("run for host %s refused: %w", b.Host, err)
		logLine(scrub(err.Error()))
		res := status.Result{Host: b.Host, Outcome: status.Failed, At: time.Now(), Message: status.Truncate(err.Error(), maxMessage)}
		b.pingEnd(ctx, &res, 0, "")
		if _, rerr := record(res, b.Retry); rerr != nil {
			log.Error("could not record the refused run", "host", b.Host, "err", rerr)
		}
		return 0, err
	}
	defer lock.Unlock()

	started := time.Now()
	// The attempt is tried once: the backup is not held up by a store
	// that is down; the spool keeps it.
	if _, err := record(status.Result{Host: b.Host, At: started}, spool.Retry{Attempts: 1}); err != nil {
		log.Error("could not record the start of the run", "host", b.Host, "err", err)
	}
	command := scrub(strings.Join(b.Args, " "))
	logLine(fmt.Sprintf("run of host %s started: %s", b.Host, command))
	var tail, failLog *ping.Tail
	outputs := []io.Writer{}
	if b.SaveLog != nil {
		// A little more than is kept: CleanLog cuts at a line.
		failLog = &ping.Tail{Limit: status.MaxLog + 4<<10}
		outputs = append(outputs, failLog)
	}
	if b.Ping != nil {
		tail = &ping.Tail{}
		outputs = append(outputs, tail)
		b.Ping.Start(ctx, fmt.Sprintf("run of %s started: %s", b.name(), command))
	}
	log.Info("backup started", "host", b.Host, "command", filepath.Base(b.Args[0]))

	stdin := b.Stdin
	if stdin == nil {
		stdin = os.Stdin
	}
	var summary *restic.Summary
	var savedID string // restic without --json names the snapshot only
	var vss VSSFailures
	r, startErr := Run(Options{
		Args: b.Args, Env: b.Env, Stdin: stdin,
		Stdout: b.Stdout, Stderr: b.Stderr, Log: logw, Output: outputWriter(outputs),
		Scrub: scrub,
		OnStdout: func(line string) {
			if s, ok := restic.ParseSummary([]byte(line)); ok {
				summary = &s
			} else if id, ok := restic.ParseSnapshotSaved(line); ok {
				savedID = id
			}
		},
		OnStderr: vss.Add,
		Signals:  signals,
	})
	if r.LogErr != nil {
		log.Warn("backup log incomplete: lines after this error were not written", "file", b.LogFile, "err", r.LogErr)
	}
	if summary == nil && savedID != "" {
		summary = &restic.Summary{SnapshotID: savedID}
	}
	res := Outcome(b.Host, r, startErr, summary, b.Exit3, vss.Reasons())
	if b.Maintenance {
		if res.Extra == nil {
			res.Extra = map[string]string{}
		}
		res.Extra[status.FieldKind] = status.KindMaintenance
	}
	if tail != nil {
		b.pingEnd(ctx, &res, r.ExitCode, fmt.Sprintf("exit status %d after %s", r.ExitCode, r.Duration().Round(time.Millisecond))+"\n\n"+tail.String())
	}
	spooled, rerr := record(res, b.Retry)
	where := "recorded"
	switch {
	case rerr != nil:
		where = "NOT recorded"
		log.Error("could not record the outcome", "host", b.Host, "status", res.Outcome, "err", rerr)
	case spooled:
		where = "kept in the spool"
	case older:
		// A result dated after it beyond the clock skew allowance holds
		// the status: "recorded" would claim a status the record lacks.
		where = "recorded as an older result, not the status"
		log.Warn("backup outcome kept as an older result, not the status: the record holds a later one", "host", b.Host, "status", res.Outcome)
	}
	if failLog != nil && res.Outcome == status.Failed && rerr == nil && !spooled {
		// After the record, and only when it reached the store: the log
		// is for the page, and must never hold up or cost the outcome.
		key := status.SideKey(status.Key(b.Host, b.Job), status.SideLog)
		if err := b.SaveLog(rctx, key, status.LogDoc(res, scrub(failLog.String()))); err != nil {
			log.Warn("failed run's log not kept in the store", "host", b.Host, "err", err)
		}
	}
	logLine(fmt.Sprintf("run of host %s ended: exit status %d after %s; %s %s", b.Host, r.ExitCode, r.Duration().Round(time.Millisecond), res.Outcome, where))
	log.Info("backup ended", "host", b.Host, "status", res.Outcome, "exit_code", r.ExitCode, "duration", r.Duration().Round(time.Millisecond), "recorded", where)
	// A program that could not start says why, not only 126 or 127.
	return r.ExitCode, errors.Join(startErr, rerr, credErr)
}

// lock takes the run's lock: one run at a time per host, or per job.
func (b *Backup) lock() (*Lock, error) {
	path := b.LockFile
	if path == "" {
		name := b.Host
		if b.Job != "" {
			name = b.Host + "@" + b.Job
		}
		var err error
		if path, err = LockPath(b.LockBase, name); err != nil {
			return nil, err
		}
	}
	return TryLock(path)
}

// name is how the log and the pings name the run: host web, or job dump
// of host web.
func (b *Backup) name() string {
	if b.Job != "" {
		return "job " + b.Job + " of host " + b.Host
	}
	return "host " + b.Host
}

// pingEnd tells the checker how the run ended, res's reason first and
// then the rest of body (the tail of the output), scrubbed, and counts
// the failed pings in res (ping_failures); res is otherwise unchanged. It
// returns within the ping's budget (ping.Budget).
func (b *Backup) pingEnd(ctx context.Context, res *status.Result, exit int, body string) {
	if b.Ping == nil {
		return
	}
	reason := res.Outcome
	if res.Message != "" {
		reason += ": " + res.Message
	}
	text := fmt.Sprintf("run of %s: %s", b.name(), reason)
	if body != "" {
		text += "\n" + body
	}
	b.Ping.End(ctx, res.Outcome == status.Success, exit, b.Scrubber.Scrub(text))
	if res.Extra == nil {
		res.Extra = map[string]string{}
	}
	res.Extra[status.FieldPingFailures] = fmt.Sprint(b.Ping.Failures())
}

// outputWriter writes to every one of ws; nil (no output kept) for none.
func outputWriter(ws []io.Writer) io.Writer {
	switch len(ws) {
	case 0:
		return nil
	case 1:
		return ws[0]
	}
	return io.MultiWriter(ws...)
}
