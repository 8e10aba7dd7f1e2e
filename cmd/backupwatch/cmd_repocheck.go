package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/repocheck"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

type repoCheckOptions struct {
	repo         string
	passwordFile string
	name         string
	subsets      int
	expect       []string
	noLock       bool
	binary       string
	timeout      time.Duration
	configFile   string
	noSize       bool
	sizeEvery    time.Duration

	env []string // set by tests; the process's own when nil
}

func addRepoCheckCommand(app *kingpin.Application, g *globals) command {
	o := &repoCheckOptions{}
	c := app.Command("repo-check", "The repository as a second witness: list its snapshots with restic (newest and count per host), read the next part of its data (--read-data-subsets), and record what it found.")
	c.Flag("repo", "restic repository to check.").Envar("RESTIC_REPOSITORY").Required().StringVar(&o.repo)
	c.Flag("password-file", "File holding the repository password; else restic's environment (RESTIC_PASSWORD...).").Envar("RESTIC_PASSWORD_FILE").StringVar(&o.passwordFile)
	c.Flag("name", "Name of the repository's record and its repository label; default: the last element of --repo.").StringVar(&o.name)
	c.Flag("read-data-subsets", "Read 1/N of the data at each run (restic check --read-data-subset=n/N, n advancing after each pass), so the whole repository is read over N runs; the default, 0, reads no data: the snapshots are listed only.").Default("0").IntVar(&o.subsets)
	c.Flag("host", "A host whose snapshots must be in this repository: reported with 0 snapshots when it has none; repeatable. Default: none, only the hosts of its snapshots are reported.").StringsVar(&o.expect)
	c.Flag("no-lock", "Run restic check without a lock, for credentials that cannot write the repository (the listing never takes one).").BoolVar(&o.noLock)
	c.Flag("restic.binary", "restic to run: a path, or by default restic, looked up in $PATH.").Default("restic").StringVar(&o.binary)
	c.Flag("no-size", "Do not measure the repository's size; by default it is measured: on a local path or a mount, the sum of its files' sizes at every check (a directory walk, no restic call); elsewhere restic stats --mode raw-data, at most once per --size.interval (it reads every snapshot's trees: on a large remote repository, minutes and traffic). With it, backup_repository_size_bytes, BackupRepositoryFillingUp and BackupRepositoryGrowthUnusual stay absent.").BoolVar(&o.noSize)
	c.Flag("size.interval", "For a repository not on a local path: run restic stats again only when the size recorded is older than this (0: at every check); it reads every snapshot again, as much CPU as the listing on a large repository. Within it a check keeps the size last measured, with its time. By default "+repocheck.DefaultSizeEvery.String()+": a timer running repo-check hourly measures the size one check in six, the shipped daily one at every check. A local path or a mount ignores it: its files are summed at every check (a directory walk, no restic call: under a second of CPU for 100,000 snapshots).").Default(repocheck.DefaultSizeEvery.String()).DurationVar(&o.sizeEvery)
	c.Flag("config.file", "YAML config file; default: none (no retention judged). Its retention: policies are judged against each host's snapshots (restore points missing, more snapshots than forget would leave).").StringVar(&o.configFile)
	c.Flag("restic.timeout", "Bound on each restic call (the listing, the locks, the size, the data check): a restic that hangs is a failed check, recorded. By default "+repocheck.DefaultTimeout.String()+", generous, for a data check of a large repository over a slow link.").Default(repocheck.DefaultTimeout.String()).DurationVar(&o.timeout)
	return command{c, func(ctx context.Context) error { return runRepoCheck(ctx, g, o) }}
}

func runRepoCheck(ctx context.Context, g *globals, o *repoCheckOptions) error {
	if strings.TrimSpace(o.repo) == "" {
		return usageError{errors.New("--repo must name the repository to check")}
	}
	name := o.name
	if name == "" {
		if name = repocheck.DefaultName(o.repo); name == "" {
			return usageError{errors.New("--repo gives no usable name: pass --name")}
		}
	}
	if err := repocheck.ValidateName(name); err != nil {
		return usageError{fmt.Errorf("--name: %w", err)}
	}
	if o.timeout <= 0 {
		return usageError{fmt.Errorf("--restic.timeout must be positive, not %v", o.timeout)}
	}
	if o.sizeEvery < 0 {
		return usageError{fmt.Errorf("--size.interval must not be negative, not %v", o.sizeEvery)}
	}
	if o.subsets < 0 || o.subsets > repocheck.MaxSubsets {
		return usageError{fmt.Errorf("--read-data-subsets must be between 0 and %d, not %d", repocheck.MaxSubsets, o.subsets)}
	}
	for _, h := range o.expect {
		if err := status.ValidateHost(h); err != nil {
			return usageError{fmt.Errorf("--host: %w", err)}
		}
	}
	var (
		retention func(host, job string) (config.Policy, bool)
		declared  []string
	)
	if o.configFile != "" {
		cfg, err := config.Load(o.configFile)
		if err != nil {
			return usageError{err}
		}
		retention = func(host, job string) (config.Policy, bool) { return cfg.Retention(name, host, job) }
		declared = cfg.Hosts
	}
	env := o.env
	if env == nil {
		env = os.Environ()
	}
	scrubber := backuprun.NewScrubber(env, []string{"--repo", o.repo, "--password-file", o.passwordFile})
	g = g.withScrubber(scrubber)
	st, err := g.store.openChecks(g, checksRepository, true)
	if err != nil {
		return err
	}
	scrubStoreSecrets(st, scrubber)

	old, err := repocheck.Load(ctx, st, name)
	if err != nil {
		return fmt.Errorf("read the record of repository %s: %w", name, err)
	}
	repo := restic.Repo{Binary: o.binary, Repository: o.repo, PasswordFile: o.passwordFile, Env: o.env, Scrub: scrubber.Scrub}
	res := repocheck.Run(ctx, repo, old, repocheck.Options{Subsets: o.subsets, Expect: o.expect, NoLock: o.noLock, NoSize: o.noSize, SizeEvery: o.sizeEvery, Timeout: o.timeout, Retention: retention, Declared: declared})
	if ctx.Err() != nil {
		return fmt.Errorf("repo-check of %s interrupted: nothing recorded", name)
	}
	res.Scrub(scrubber.Scrub) // what restic said goes into the record without the secrets it was given
	writer := "backupwatch repo-check"
	if err := repocheck.Save(context.WithoutCancel(ctx), st, name, func(cur map[string]any) map[string]any {
		return repocheck.Apply(cur, res, writer)
	}); err != nil {
		return fmt.Errorf("record the check of repository %s: %w", name, err)
	}
	where := g.store.checksLocation(checksRepository) + "/" + name
	if res.ListErr != nil {
		g.logger.Error("repository not listed", "repository", name, "err", scrubber.Scrub(res.ListErr.Error()), "recorded", where)
		return &exitCode{code: exitError, err: fmt.Errorf("repo-check %s: %s", name, scrubber.Scrub(res.ListErr.Error()))}
	}
	args := append(res.LogArgs(name, scrubber.Scrub), "recorded", where)
	if res.DataErr != nil {
		g.logger.Error("data check failed", append(args, "err", scrubber.Scrub(res.DataErr.Error()))...)
		return &exitCode{code: exitError, err: fmt.Errorf("repo-check %s: data check %d/%d failed: %s", name, res.Subset, res.Subsets, scrubber.Scrub(res.DataErr.Error()))}
	}
	g.logger.Info("repository checked", args...)
	return nil
}
