package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/status"
)

func addForgetCommand(app *kingpin.Application, g *globals) command {
	var host string
	var jobs jobFlags
	c := app.Command("forget", "Remove a decommissioned host's record and its jobs' (on KV v2, every version and its metadata), or with --job that one job's, so it stops alerting; its pauses too. Exits 1 when the store has no such record.")
	c.Flag("host", "Host to forget.").Required().StringVar(&host)
	jobs.add(c, false)
	c.GetFlag("job").Help("Forget only this job's record; without --job, the host's own record and all its jobs' are forgotten.")
	return command{c, func(ctx context.Context) error { return runForget(ctx, g, host, jobs) }}
}

func runForget(ctx context.Context, g *globals, host string, jobs jobFlags) error {
	if host == "" {
		return usageError{errors.New("--host must name the host to forget")}
	}
	h, err := resolveHost(host, true)
	if err != nil {
		return err
	}
	job, _, err := jobs.resolve()
	if err != nil {
		return err
	}
	st, err := g.store.openRead(g, 1)
	if err != nil {
		return err
	}
	// A name the store does not list is a typo or a host already gone:
	// saying "forgotten" would hide that the real one still alerts. A token
	// that may delete but not list cannot tell; it deletes as asked.
	keys, err := st.List(ctx)
	var names, pauses []string
	if err == nil && slices.Contains(keys, status.JobsFolder+"/") {
		names, err = st.ListFolder(ctx, status.JobsFolder)
	}
	if err == nil && slices.Contains(keys, status.PausesFolder+"/") {
		pauses, err = st.ListFolder(ctx, status.PausesFolder)
	}
	var forget []string // keys
	switch {
	case err != nil:
		g.logger.Debug("could not list the records: deleting without knowing whether they exist", "err", err)
		forget = append(forget, status.Key(h, job))
	case job != "":
		if !slices.Contains(names, h+"@"+job) {
			return fmt.Errorf("no record of job %s of host %s in %s: nothing to forget (`backupwatch status` lists the jobs)", job, h, st.String())
		}
		forget = append(forget, status.Key(h, job))
	default:
		if slices.Contains(keys, h) {
			forget = append(forget, h)
		}
		for _, n := range names {
			if jh, jj, ok := strings.Cut(n, "@"); ok && jh == h {
				forget = append(forget, status.Key(h, jj))
			}
		}
		if len(forget) == 0 {
			return fmt.Errorf("no record of host %s in %s: nothing to forget (`backupwatch status` lists the hosts)", h, st.String())
		}
	}
	// Its pauses go with it: a gone host's pause would be exported for ever.
	for _, n := range pauses {
		if ph, pj, err := status.SplitPauseName(n); err == nil && ph == h && (job == "" || pj == job) {
			forget = append(forget, status.PauseKey(ph, pj))
		}
	}
	for _, k := range forget {
		if err := st.Delete(ctx, k); err != nil {
			return err
		}
	}
	g.logger.Info("forgotten", "host", h, "job", job, "records", len(forget), "store", st.String())
	return nil
}
