package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/ping"
	"github.com/golemtrust/backupwatch/internal/repocheck"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/restoretest"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

type restoreTestRunOptions struct {
	repo           string
	passwordFile   string
	snapshot       string
	snapshotHost   string
	expect         []string
	scratch        string
	hostTested     string
	jobs           jobFlags
	pings          pingFlags
	hostTestedSet  bool // --host-tested given, perhaps empty
	readData       bool
	readDataSubset string
	binary         string
	pick           string        // "oldest": the host tested least recently
	incomplete     bool          // --allow-incomplete
	allowEmpty     bool          // --allow-empty
	timeout        time.Duration // --restic.timeout; 0 (tests): repocheck.DefaultTimeout

	env []string // set by tests; the process's own when nil
}

// addRestoreTestRunCommand hangs `run` under the `restore-test` command
// that addRestoreTestCommands creates.
func addRestoreTestRunCommand(app *kingpin.Application, g *globals) command {
	o := &restoreTestRunOptions{}
	parent := app.GetCommand("restore-test")
	c := parent.Command("run", "Run the restore test: restore a snapshot into an empty scratch directory with restic, check it, record passed or failed, clean up.")
	c.Flag("repo", "restic repository to test.").Envar("RESTIC_REPOSITORY").Required().StringVar(&o.repo)
	c.Flag("password-file", "File holding the repository password; else restic's environment (RESTIC_PASSWORD...).").Envar("RESTIC_PASSWORD_FILE").StringVar(&o.passwordFile)
	c.Flag("snapshot", "Snapshot to restore: its ID, or by default latest, the newest snapshot (of --snapshot.host when given).").Default("latest").StringVar(&o.snapshot)
	c.Flag("snapshot.host", "With --snapshot=latest: the latest snapshot of this host.").StringVar(&o.snapshotHost)
	c.Flag("allow-empty", "A restore that restored no file passes: the job may back up an empty directory. Otherwise it fails (an unmounted file system backs up as an empty one).").BoolVar(&o.allowEmpty)
	c.Flag("allow-incomplete", "With --snapshot=latest: test the latest snapshot even when its host's record says its backup exited 3 (incomplete); otherwise the one before it is tested.").BoolVar(&o.incomplete)
	c.Flag("pick", "oldest: test the latest snapshot of the repository's host whose backup was restore-tested least recently (never first), for a timer that rotates through the fleet; with --config.file, only among the hosts it declares (others are reported, never tested).").EnumVar(&o.pick, "oldest")
	c.Flag("expect", "A path as it is in the snapshot (restic ls; e.g. /var/lib/postgresql) that must be restored and not be empty; repeatable. Default: none, any restored file will do.").StringsVar(&o.expect)
	c.Flag("scratch", "Directory to restore into: must be empty or not exist; default: a new temporary directory. Emptied afterwards.").StringVar(&o.scratch)
	c.Flag("host-tested", "Host recorded as tested; default: the snapshot's host.").IsSetByUser(&o.hostTestedSet).StringVar(&o.hostTested)
	c.Flag("check.read-data", "Let restic check read every data blob of the repository (slow).").BoolVar(&o.readData)
	c.Flag("check.read-data-subset", "Let restic check read this part of the data (n/t, x% or a size); default: none, only what --check.read-data says.").StringVar(&o.readDataSubset)
	c.Flag("restic.binary", "restic to run: a path, or by default restic, looked up in $PATH.").Default("restic").StringVar(&o.binary)
	c.Flag("restic.timeout", "Bound on each restic call (the listing, the check, the restore): a restic that hangs is a failed restore test, recorded. By default "+repocheck.DefaultTimeout.String()+", generous, for a restore or data check of a large repository over a slow link; raise it for hosts whose restore takes longer.").Default(repocheck.DefaultTimeout.String()).DurationVar(&o.timeout)
	o.jobs.add(c, false)
	o.pings.add(c)
	return command{c, func(ctx context.Context) error {
		if o.timeout <= 0 {
			return usageError{fmt.Errorf("--restic.timeout must be positive, not %v", o.timeout)}
		}
		return runRestoreTestRun(ctx, g, o)
	}}
}

// runRestoreTestRun checks the flags, wires a restore test
// (internal/restoretest) to the store, and turns its end into the exit
// status: 1 for a failed test.
func runRestoreTestRun(ctx context.Context, g *globals, o *restoreTestRunOptions) error {
	if err := checkHostTested(o.hostTested, o.hostTestedSet); err != nil {
		return err
	}
	if _, _, err := o.jobs.resolve(); err != nil {
		return err
	}
	timeout := o.timeout
	if timeout <= 0 {
		timeout = repocheck.DefaultTimeout
	}
	t := &restoretest.Test{
		Repo:     restic.Repo{Binary: o.binary, Repository: o.repo, PasswordFile: o.passwordFile, Env: o.env, Timeout: timeout},
		Snapshot: o.snapshot, SnapshotHost: o.snapshotHost, PickOldest: o.pick == "oldest",
		Expect: o.expect, Scratch: o.scratch, HostTested: o.hostTested, Job: o.jobs.job,
		ReadData: o.readData, DataSubset: o.readDataSubset, AllowIncomplete: o.incomplete, AllowEmpty: o.allowEmpty,
	}
	if err := t.Validate(); err != nil {
		return usageError{err}
	}
	// The config file's pings name the restore test as its records do:
	// the jobs of the host restore-test.
	pinger, err := o.pings.resolve(status.RestoreTestKey, o.jobs.job, nil)
	if err != nil {
		return err
	}
	env := o.env
	if env == nil {
		env = os.Environ()
	}
	scrubber := backuprun.NewScrubber(env, []string{"--repo", o.repo, "--password-file", o.passwordFile})
	g = g.withScrubber(scrubber)
	if pinger != nil {
		scrubber.Add(ping.Secrets(pinger.URL)...)
		pinger.Logger = g.logger
	}
	t.Repo.Scrub = scrubber.Scrub
	if _, err := t.Repo.LookPath(); err != nil {
		return err
	}
	if t.PickOldest && o.pings.configFile != "" { // only among the hosts it declares
		cfg, err := config.Load(o.pings.configFile)
		if err != nil {
			return usageError{err}
		}
		t.Declared = cfg.Hosts
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	scrubStoreSecrets(st, scrubber)
	t.Records, t.StoreName = st, st.String()
	t.Checks, t.ChecksLocation = hostRestoreTests(g), g.store.checksLocation(checksRestoreTest)
	t.Deliver = func(ctx context.Context, e spool.Entry) (deliver.Delivery, error) {
		dlv, err := newDeliverer(g, st)
		if err != nil {
			return deliver.Delivery{}, err
		}
		return dlv.Deliver(ctx, e, g.spool.retryPolicy())
	}
	t.Scrub, t.Ping, t.Logger = scrubber.Scrub, pinger, g.logger
	rep, err := t.Run(ctx)
	var input *restoretest.InputError
	switch {
	case errors.As(err, &input):
		return usageError{err}
	case rep.Failed != nil:
		return &exitCode{code: exitError, err: fmt.Errorf("restore test failed: %s", scrubber.Scrub(rep.Failed.Error()))}
	}
	return err
}
