package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/ping"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

type runOptions struct {
	host     string
	hostSet  bool // --host given, perhaps empty
	logFile  string
	exit3    string
	lockFile string
	// maintenance: --maintenance, or restic forget, prune or check
	maintenance bool
	args        []string
	jobs        jobFlags
	pings       pingFlags

	// Set by tests; the process's own when zero.
	env      []string
	stdin    io.Reader
	signals  <-chan os.Signal
	lockBase string // the default lock's directory's parent; /run/lock when empty
}

func addRunCommand(app *kingpin.Application, g *globals) command {
	o := &runOptions{}
	c := app.Command("run", "Run a backup program (e.g. `backupwatch run -- restic backup --json /srv`): its output passed through and logged, its start and outcome (and restic's summary) recorded; exits with its status.")
	c.Flag("host", "Host the backup is of; default: this machine's short host name.").IsSetByUser(&o.hostSet).StringVar(&o.host)
	c.Flag("log.file", "Append the program's output to this file, a timestamp per line; empty for none. The default is the runbook's log, the one the alerts tell people to check.").Default("/var/log/restic-backup.log").StringVar(&o.logFile)
	c.Flag("restic.exit3", "How restic's exit code 3 (snapshot made, some files unreadable) is recorded: failed (the default), or success with a warning.").PlaceHolder("failed|success").Default(status.Failed).EnumVar(&o.exit3, status.Failed, status.Success)
	c.Flag("lock.file", "Lock file refusing a second overlapping run of the same job (skipped, not recorded); default: <host>.lock (<host>@<job>.lock with --job) in /run/lock/backupwatch (root; must be root's own) or the runtime directory.").StringVar(&o.lockFile)
	c.Flag("maintenance", "Record the run as maintenance of the repository (kind: maintenance), never compared with backups (anomaly alerts): for a wrapper script; restic forget, prune and check are recognised without it. Give it a --job of its own (prune, check).").BoolVar(&o.maintenance)
	o.jobs.add(c, true)
	o.pings.add(c)
	c.Arg("command", "The backup program and its arguments, after --.").Required().StringsVar(&o.args)
	return command{c, func(ctx context.Context) error { return runRun(ctx, g, o) }}
}

// runRun wires a backup run (internal/backuprun) to the flags and the
// store, and turns how it ended into the exit status: the program's.
func runRun(ctx context.Context, g *globals, o *runOptions) error {
	if len(o.args) == 0 || o.args[0] == "" {
		return usageError{errors.New("no command to run: give it after --, e.g. backupwatch run -- restic backup /srv")}
	}
	host, err := resolveHost(o.host, o.hostSet)
	if err != nil {
		return err
	}
	job, sched, err := o.jobs.resolve()
	if err != nil {
		return err
	}
	pinger, err := o.pings.resolve(host, job, g.logger)
	if err != nil {
		return err
	}
	env := o.env
	if env == nil {
		env = os.Environ()
	}
	scrubber := backuprun.NewScrubber(env, o.args)
	if pinger != nil {
		scrubber.Add(ping.Secrets(pinger.URL)...)
	}
	g = g.withScrubber(scrubber)
	if pinger != nil {
		pinger.Logger = g.logger
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	scrubStoreSecrets(st, scrubber)
	dlv, err := newDeliverer(g, st)
	if err != nil {
		return err
	}
	b := &backuprun.Backup{
		Host: host, Job: job, Schedule: sched,
		Args: o.args, Env: o.env, Stdin: o.stdin, Stdout: g.stdout, Stderr: g.stderr,
		LogFile: o.logFile, Exit3: o.exit3, LockFile: o.lockFile, LockBase: o.lockBase,
		Maintenance: o.maintenance || restic.Maintenance(o.args),
		Signals:     o.signals, Scrubber: scrubber,
		Deliver: dlv.Deliver, Retry: g.spool.retryPolicy(), Ping: pinger, Logger: g.logger,
		SaveLog: func(ctx context.Context, key string, doc map[string]any) error {
			return st.Update(ctx, key, func(map[string]any) (map[string]any, bool, error) { return doc, true, nil })
		},
	}
	code, err := b.Run(ctx)
	switch {
	case code != 0:
		return &exitCode{code: code, err: err}
	case err != nil:
		return err // exitStatus: 2 for a job refused by the jobs limit, else 1
	}
	return nil
}
