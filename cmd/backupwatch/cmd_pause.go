package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/pause"
	"github.com/golemtrust/backupwatch/internal/status"
)

// pauseOptions are the flags of pause and resume (resume takes the first two).
type pauseOptions struct {
	host    string
	hostSet bool
	jobs    jobFlags
	until   string
	reason  string
	force   bool
}

func addPauseCommands(app *kingpin.Application, g *globals) []command {
	p := &pauseOptions{}
	c := app.Command("pause", fmt.Sprintf("Pause a host's alerts (or with --job one job's) for maintenance: written to the store beside its record, exported as backup_paused_until_timestamp_seconds; Alertmanager holds back every alert of that host or job until --until, and what is still wrong then alerts again. At most %v ahead without --force. Exits 2 on a bad flag, nothing written.", status.MaxPause))
	p.addTarget(c, "Host to pause")
	c.Flag("until", fmt.Sprintf("When the pause ends: a time (RFC 3339) or a duration from now (2h, 3d); at most %v ahead, %v with --force.", status.MaxPause, status.MaxForcedPause)).PlaceHolder("TIME|DURATION").Required().StringVar(&p.until)
	c.Flag("reason", fmt.Sprintf("Why, for whoever wonders where the alerts went: one line of plain text, at most %d characters (a ticket, the maintenance); shown on the status page and by status.", status.MaxPauseReason)).PlaceHolder("TEXT").Required().StringVar(&p.reason)
	c.Flag("force", fmt.Sprintf("Allow a pause longer than %v.", status.MaxPause)).BoolVar(&p.force)

	r := &pauseOptions{}
	rc := app.Command("resume", "End a host's pause (or with --job one job's) now: its alerts come back at once. The pause stays recorded as ended, with its reason. Exits 1 when there is no such pause.")
	r.addTarget(rc, "Host to resume")
	return []command{
		{c, func(ctx context.Context) error { return runPause(ctx, g, p, time.Now()) }},
		{rc, func(ctx context.Context) error { return runResume(ctx, g, r, time.Now()) }},
	}
}

func (o *pauseOptions) addTarget(c *kingpin.CmdClause, what string) {
	c.Flag("host", what+"; default: this machine's short host name (a host's credentials may pause only itself).").IsSetByUser(&o.hostSet).StringVar(&o.host)
	o.jobs.add(c, false)
	c.GetFlag("job").Help("Only this job; without --job, the whole host, every job included.")
}

// target validates the host and job.
func (o *pauseOptions) target() (host, job string, err error) {
	if host, err = resolveHost(o.host, o.hostSet); err != nil {
		return "", "", err
	}
	if job, _, err = o.jobs.resolve(); err != nil {
		return "", "", err
	}
	return host, job, nil
}

func runPause(ctx context.Context, g *globals, o *pauseOptions, now time.Time) error {
	host, job, err := o.target()
	if err != nil {
		return err
	}
	until, err := pause.Until(o.until, now, o.force)
	if err != nil {
		return usageError{fmt.Errorf("--until: %w", err)}
	}
	if err := status.ValidatePauseReason(o.reason); err != nil {
		return usageError{fmt.Errorf("--reason: %w", err)}
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	replaced, err := pause.Set(ctx, st, host, job, until, o.reason, now)
	if err != nil {
		return err
	}
	nudgePause(g, host, job)
	args := []any{"host", host, "job", job, "until", status.FormatTime(until), "reason", o.reason, "store", st.String()}
	if replaced != nil && replaced.Active(now) {
		args = append(args, "replaced_until", status.FormatTime(replaced.Until))
	}
	g.logger.Info("paused: its alerts are held back until then", args...)
	return nil
}

func runResume(ctx context.Context, g *globals, o *pauseOptions, now time.Time) error {
	host, job, err := o.target()
	if err != nil {
		return err
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	ended, err := pause.End(ctx, st, host, job, now)
	if err != nil {
		return err
	}
	if ended {
		g.logger.Info("the pause had already ended: nothing to resume", "host", host, "job", job, "store", st.String())
		return nil
	}
	nudgePause(g, host, job)
	g.logger.Info("resumed: its alerts are back", "host", host, "job", job, "store", st.String())
	return nil
}

// nudgePause asks the exporters (--exporter.url) to read the pause now;
// without a nudge it is seen at their next full refresh.
func nudgePause(g *globals, host, job string) {
	if g.nudges == nil {
		s, err := g.store.nudgeSender(g.logger)
		if err != nil {
			g.logger.Warn("exporters not nudged: they see the pause at their next full refresh", "err", err)
			return
		}
		g.nudges = s
	}
	g.nudges.Send(status.JobID{Host: host, Job: job})
}
