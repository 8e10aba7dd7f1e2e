package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/restic"
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
	hostTestedSet  bool // --host-tested given, perhaps empty
	readData       bool
	readDataSubset string
	binary         string
	pick           string // "oldest": the host tested least recently
	incomplete     bool   // --allow-incomplete

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
	c.Flag("allow-incomplete", "With --snapshot=latest: test the latest snapshot even when its host's record says its backup exited 3 (incomplete); otherwise the one before it is tested.").BoolVar(&o.incomplete)
	c.Flag("pick", "oldest: test the latest snapshot of the repository's host whose backup was restore-tested least recently (never first), for a timer that rotates through the fleet.").EnumVar(&o.pick, "oldest")
	c.Flag("expect", "A path as it is in the snapshot (restic ls; e.g. /var/lib/postgresql) that must be restored and not be empty; repeatable.").StringsVar(&o.expect)
	c.Flag("scratch", "Directory to restore into: must be empty or not exist; default: a new temporary directory. Emptied afterwards.").StringVar(&o.scratch)
	c.Flag("host-tested", "Host recorded as tested; default: the snapshot's host.").IsSetByUser(&o.hostTestedSet).StringVar(&o.hostTested)
	c.Flag("check.read-data", "Let restic check read every data blob of the repository (slow).").BoolVar(&o.readData)
	c.Flag("check.read-data-subset", "Let restic check read this part of the data (n/t, x% or a size).").StringVar(&o.readDataSubset)
	c.Flag("restic.binary", "restic to run: a path, or by default restic, looked up in $PATH.").Default("restic").StringVar(&o.binary)
	o.jobs.add(c, false)
	return command{c, func(ctx context.Context) error { return runRestoreTestRun(ctx, g, o) }}
}

func runRestoreTestRun(ctx context.Context, g *globals, o *restoreTestRunOptions) error {
	if err := checkHostTested(o.hostTested, o.hostTestedSet); err != nil {
		return err
	}
	if _, _, err := o.jobs.resolve(); err != nil {
		return err
	}
	if strings.TrimSpace(o.repo) == "" {
		return usageError{errors.New("--repo must name the repository to test")}
	}
	if o.snapshot == "" {
		return usageError{errors.New("--snapshot must not be empty")}
	}
	for _, p := range o.expect {
		if err := checkExpectPath(p); err != nil {
			return usageError{err}
		}
	}
	env := o.env
	if env == nil {
		env = os.Environ()
	}
	scrubber := backuprun.NewScrubber(env, []string{"--repo", o.repo, "--password-file", o.passwordFile})
	scrub := scrubber.Scrub
	g = g.withScrubber(scrubber)
	repo := restic.Repo{Binary: o.binary, Repository: o.repo, PasswordFile: o.passwordFile, Env: o.env, Scrub: scrub}
	if _, err := repo.LookPath(); err != nil {
		return err
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	scrubStoreSecrets(st, scrubber)
	if o.pick == "oldest" {
		if o.snapshotHost != "" || o.snapshot != "latest" {
			return usageError{errors.New("--pick oldest chooses the host and takes its latest snapshot: drop --snapshot.host and --snapshot")}
		}
		h, err := pickOldest(ctx, g, repo)
		if err != nil {
			return err
		}
		g.logger.Info("picked the host restore-tested least recently", "host", h)
		o.snapshotHost = h
	}
	if !o.incomplete {
		if err := skipIncomplete(ctx, g, st, repo, o); err != nil {
			return err
		}
	}
	scratch, cleanup, err := prepareScratch(o.scratch)
	if err != nil {
		return err
	}

	rt, testErr := restoreTest(ctx, repo, o, scratch)
	if err := cleanup(); err != nil {
		g.logger.Warn("scratch directory not cleaned up", "dir", scratch, "err", err)
		rt.Notes += "; scratch directory " + scratch + " not cleaned up"
	}
	rt.Notes = status.Truncate(scrub(rt.Notes), 1000)

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var d deliver.Delivery
	dlv, rerr := newDeliverer(g, st)
	if rerr == nil {
		d, rerr = dlv.Deliver(rctx, spool.Entry{RestoreTest: &rt}, g.spool.retryPolicy())
	}
	if rerr != nil {
		g.logger.Error("could not record the restore test", "err", rerr)
	}
	if herr := recordHostRestoreTest(rctx, g, rt); herr != nil {
		g.logger.Error("could not record the host's restore test", "err", herr)
		rerr = errors.Join(rerr, herr)
	}
	spooled := d.Spooled != ""
	if spooled {
		g.logger.Warn("store unavailable: restore test kept in the spool", "file", d.Spooled, "err", d.StoreErr)
	}
	var mins any = "-"
	if rt.TimeToRestoreMinutes != nil {
		mins = *rt.TimeToRestoreMinutes
	}
	g.logger.Info("restore test done", "result", rt.Result, "host_tested", rt.HostTested, "time_to_restore_minutes", mins, "spooled", spooled, "store", st.String())
	if testErr != nil {
		return &exitCode{code: exitError, err: fmt.Errorf("restore test failed: %s", scrub(testErr.Error()))}
	}
	return rerr
}

// restoreTest runs the test proper and returns what to record; the error
// says why it failed.
func restoreTest(ctx context.Context, repo restic.Repo, o *restoreTestRunOptions, scratch string) (status.RestoreTest, error) {
	rt := status.RestoreTest{Job: o.jobs.job, LastTest: time.Now(), Result: status.Failed, HostTested: o.hostTested}
	fail := func(err error) (status.RestoreTest, error) {
		rt.Notes = "failed: " + err.Error()
		return rt, err
	}
	snap, err := repo.Snapshot(ctx, o.snapshot, o.snapshotHost)
	if err != nil {
		return fail(fmt.Errorf("find snapshot %s: %w", o.snapshot, err))
	}
	if rt.HostTested == "" {
		rt.HostTested = snap.Hostname
	}
	short := snap.ShortID
	if short == "" {
		short = snap.ID[:min(8, len(snap.ID))]
	}
	if err := repo.Check(ctx, o.readData, o.readDataSubset); err != nil {
		return fail(err)
	}
	t0 := time.Now()
	err = repo.Restore(ctx, snap.ID, scratch, true)
	mins := math.Round(time.Since(t0).Minutes()*1000) / 1000
	rt.TimeToRestoreMinutes = &mins
	if err != nil {
		return fail(fmt.Errorf("restore snapshot %s: %w", short, err))
	}
	files, err := verifyRestore(scratch, o.expect)
	if err != nil {
		return fail(fmt.Errorf("snapshot %s: %w", short, err))
	}
	rt.Result = status.Passed
	rt.Notes = fmt.Sprintf("restored snapshot %s of %s taken %s (%d files) with restic, verified; restic check passed", short, snap.Hostname, status.FormatTime(snap.Time), files)
	if len(o.expect) > 0 {
		rt.Notes += fmt.Sprintf("; %d expected paths present and not empty", len(o.expect))
	}
	return rt, nil
}

// checkExpectPath refuses paths that could point outside the restore.
func checkExpectPath(p string) error {
	if strings.TrimSpace(p) == "" {
		return errors.New("--expect: empty path")
	}
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if part == ".." {
			return fmt.Errorf("--expect %q: must not contain ..", p)
		}
	}
	return nil
}

// verifyRestore checks the expected paths and that something was restored;
// it returns the number of regular files restored.
func verifyRestore(scratch string, expect []string) (int, error) {
	files := 0
	err := filepath.WalkDir(scratch, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files++
		}
		return nil
	})
	if err != nil {
		return files, fmt.Errorf("read the restore: %w", err)
	}
	// The expected paths are looked up inside the restore only: a symlink
	// restored in the snapshot (data -> /srv/data) must not make a path on
	// this machine count as restored.
	root, err := os.OpenRoot(scratch)
	if err != nil {
		return files, fmt.Errorf("read the restore: %w", err)
	}
	defer root.Close()
	var missing []string
	for _, p := range expect {
		rel := strings.TrimPrefix(filepath.Clean("/"+p), "/")
		if rel == "" {
			rel = "."
		}
		fi, err := root.Stat(rel)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, p+" is missing")
		case err != nil:
			missing = append(missing, fmt.Sprintf("%s: not in the restore (%v)", p, err))
		case fi.IsDir():
			if !dirHasEntries(root, rel) {
				missing = append(missing, p+" is an empty directory")
			}
		case fi.Mode().IsRegular() && fi.Size() == 0:
			missing = append(missing, p+" is an empty file")
		}
	}
	if len(missing) > 0 {
		return files, fmt.Errorf("expected paths: %s", strings.Join(missing, "; "))
	}
	if files == 0 {
		empty := true
		if des, err := os.ReadDir(scratch); err == nil && len(des) > 0 {
			empty = false
		}
		if empty {
			return 0, errors.New("nothing was restored")
		}
	}
	return files, nil
}

// dirHasEntries reports whether the directory name in root lists anything.
func dirHasEntries(root *os.Root, name string) bool {
	f, err := root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	des, err := f.ReadDir(1)
	return err == nil && len(des) > 0
}

// prepareScratch returns an empty directory to restore into and how to
// clean it up. It never uses a directory that holds anything: restoring
// over existing files could hide a restore that restored nothing, or
// overwrite someone's data.
func prepareScratch(dir string) (string, func() error, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "backupwatch-restore-test-")
		if err != nil {
			return "", nil, fmt.Errorf("create scratch directory: %w", err)
		}
		return d, func() error { return removeAll(d) }, nil
	}
	dir = filepath.Clean(dir)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, fmt.Errorf("create scratch directory: %w", err)
		}
		return dir, func() error { return removeAll(dir) }, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("scratch directory: %w", err)
	}
	if !fi.IsDir() {
		return "", nil, usageError{fmt.Errorf("--scratch %s is not a directory", dir)}
	}
	// Whoever else can write to it could swap what restic restores into
	// for a symlink while it runs, and have it write anywhere.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return "", nil, usageError{fmt.Errorf("refusing to restore into %s: another user owns it or may write to it; give a new directory", dir)}
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return "", nil, fmt.Errorf("scratch directory: %w", err)
	}
	if len(des) > 0 {
		return "", nil, usageError{fmt.Errorf("refusing to restore into %s: it is not empty (%d entries); give an empty or new directory", dir, len(des))}
	}
	return dir, func() error { return emptyDir(dir) }, nil
}

// removeAll removes dir, making read-only directories in it writable
// first if they stop it (a restore keeps the modes it restored).
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// emptyDir removes what is in dir, keeping dir.
func emptyDir(dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, de := range des {
		if err := removeAll(filepath.Join(dir, de.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
