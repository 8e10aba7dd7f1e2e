package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

type recordOptions struct {
	status   string
	host     string
	hostSet  bool // --host given, perhaps empty
	at       string
	atSet    bool
	exitCode int64
	duration string
	message  string
	jobs     jobFlags
}

func addRecordCommand(app *kingpin.Application, g *globals) command {
	o := &recordOptions{}
	c := app.Command("record", "Record a host's backup outcome (replaces the runbook's `vault kv put`).")
	c.Flag("status", "Outcome of the backup: success or failed.").PlaceHolder("success|failed").Required().EnumVar(&o.status, status.Success, status.Failed)
	c.Flag("host", "Host the backup is of; default: this machine's short host name.").IsSetByUser(&o.hostSet).StringVar(&o.host)
	c.Flag("at", "When the backup ended (RFC 3339); default: now. At most 5 minutes ahead of this machine's clock.").IsSetByUser(&o.atSet).StringVar(&o.at)
	c.Flag("exit-code", "Exit code of the backup program; the default, -1, records none (the code is not known).").Default("-1").Int64Var(&o.exitCode)
	c.Flag("duration", "How long the backup took (e.g. 12m30s); default: none recorded.").StringVar(&o.duration)
	c.Flag("message", "A short message, such as the last error line; default: none.").StringVar(&o.message)
	o.jobs.add(c, true)
	return command{c, func(ctx context.Context) error { return runRecord(ctx, g, o) }}
}

func runRecord(ctx context.Context, g *globals, o *recordOptions) error {
	res, err := o.result(time.Now())
	if err != nil {
		return err
	}
	st, err := g.store.open(g, 1)
	if err != nil {
		return err
	}
	dl, err := deliverEntry(ctx, g, st, spool.Entry{Result: &res})
	if err != nil {
		return err
	}
	if dl.Older {
		// Written, but a result that arrived before it is dated more
		// than the clock skew allowance after it: saying "recorded"
		// would claim a status the record does not hold.
		g.logger.Warn("backup outcome kept as an older result, not the status: the record holds a later one", "host", res.Host, "job", res.Job, "status", res.Outcome, "at", status.FormatTime(res.At), "store", st.String())
		return nil
	}
	g.logger.Info("backup outcome recorded", "host", res.Host, "job", res.Job, "status", res.Outcome, "at", status.FormatTime(res.At), "store", st.String())
	return nil
}

func (o *recordOptions) result(now time.Time) (status.Result, error) {
	host, err := resolveHost(o.host, o.hostSet)
	if err != nil {
		return status.Result{}, err
	}
	at, err := parseAt(o.at, o.atSet, now)
	if err != nil {
		return status.Result{}, err
	}
	job, sched, err := o.jobs.resolve()
	if err != nil {
		return status.Result{}, err
	}
	res := status.Result{Host: host, Job: job, Schedule: sched, Outcome: o.status, At: at, Message: o.message}
	if o.exitCode >= 0 {
		res.ExitCode = &o.exitCode
	}
	if o.duration != "" {
		d, err := parseDuration("--duration", o.duration)
		if err != nil {
			return status.Result{}, err
		}
		secs := d.Seconds()
		res.Duration = &secs
	}
	return res, nil
}

// parseAt reads an --at flag: now when not given; a time no further ahead
// than the clock skew allowed, since a result dated in the future would
// hide every real result until then.
func parseAt(s string, set bool, now time.Time) (time.Time, error) {
	if !set {
		return now, nil
	}
	if strings.TrimSpace(s) == "" {
		return time.Time{}, usageError{errors.New("--at: empty: give a time (RFC 3339), or leave --at out for now")}
	}
	at, err := status.ParseTime(s)
	if err == nil {
		err = status.CheckNotFuture(at, now)
	}
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("--at: %w", err)}
	}
	return at, nil
}

// deliverOrSpool writes e after whatever of its host waits in the spool;
// when Vault cannot take it for now, it is kept in the spool and the error
// says where, so a command that records exits non-zero but loses nothing.
// A result Vault refuses for good is an error, not spooled.
func deliverOrSpool(ctx context.Context, g *globals, st recordStore, e spool.Entry) error {
	_, err := deliverEntry(ctx, g, st, e)
	return err
}

// deliverEntry is deliverOrSpool, also saying what became of e.
func deliverEntry(ctx context.Context, g *globals, st recordStore, e spool.Entry) (deliver.Delivery, error) {
	d, err := newDeliverer(g, st)
	if err != nil {
		return deliver.Delivery{}, err
	}
	dl, err := d.Deliver(ctx, e, g.spool.retryPolicy())
	if err != nil {
		return dl, err
	}
	return dl, dl.Err()
}
