package main

import (
	"context"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/restoretest"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

type restoreTestRecordOptions struct {
	result        string
	hostTested    string
	timeToRestore string
	notes         string
	at            string
	atSet         bool
	jobs          jobFlags
}

func addRestoreTestCommands(app *kingpin.Application, g *globals) command {
	o := &restoreTestRecordOptions{}
	rt := app.Command("restore-test", "Record restore tests.")
	c := rt.Command("record", "Record the outcome of a restore test, with the runbook's fields.")
	c.Flag("result", "Outcome of the restore test: passed or failed.").PlaceHolder("passed|failed").Required().EnumVar(&o.result, status.Passed, status.Failed)
	c.Flag("host-tested", "Host whose backup was restored.").Required().StringVar(&o.hostTested)
	c.Flag("time-to-restore", "How long the restore took (e.g. 47m).").Required().StringVar(&o.timeToRestore)
	c.Flag("notes", "Free text, as in the runbook; default: none.").StringVar(&o.notes)
	c.Flag("at", "When the test was done (RFC 3339); default: now. At most 5 minutes ahead of this machine's clock.").IsSetByUser(&o.atSet).StringVar(&o.at)
	o.jobs.add(c, false)
	return command{c, func(ctx context.Context) error { return runRestoreTestRecord(ctx, g, o) }}
}

func runRestoreTestRecord(ctx context.Context, g *globals, o *restoreTestRecordOptions) error {
	if err := checkHostTested(o.hostTested, true); err != nil {
		return err
	}
	job, _, err := o.jobs.resolve()
	if err != nil {
		return err
	}
	ttr, err := parseDuration("--time-to-restore", o.timeToRestore)
	if err != nil {
		return err
	}
	at, err := parseAt(o.at, o.atSet, time.Now())
	if err != nil {
		return err
	}
	mins := ttr.Minutes()
	rt := status.RestoreTest{Job: job, LastTest: at, Result: o.result, HostTested: o.hostTested, TimeToRestoreMinutes: &mins, Notes: o.notes}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	if err := deliverOrSpool(ctx, g, st, spool.Entry{RestoreTest: &rt}); err != nil {
		return err
	}
	if err := restoretest.RecordHost(ctx, hostRestoreTests(g), g.store.checksLocation(checksRestoreTest), rt); err != nil {
		return err
	}
	g.logger.Info("restore test recorded", "job", rt.Job, "result", rt.Result, "host_tested", rt.HostTested, "store", st.String())
	return nil
}

// hostRestoreTests opens the tested hosts' restore test records; create
// makes a missing local store (to write).
func hostRestoreTests(g *globals) func(create bool) (restoretest.Store, error) {
	return func(create bool) (restoretest.Store, error) {
		return g.store.openChecks(g, checksRestoreTest, create)
	}
}
