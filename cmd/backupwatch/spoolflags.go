package main

import (
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/prometheus/client_golang/prometheus"
)

// spoolOptions say where results wait when the store cannot take them.
type spoolOptions struct {
	dir string
	// retry is how hard `record` and `run` try to write a result before
	// spooling it; zero means defaultRetry.
	retry spool.Retry
}

// defaultRetry is short: a backup job should not hang on a Vault that is
// down, the spool keeps the result and the next run delivers it.
var defaultRetry = spool.Retry{Attempts: 3, Backoff: time.Second}

func (o *spoolOptions) addFlags(app *kingpin.Application) {
	app.Flag("spool.dir", "Directory where results wait, one file each, when the store cannot take them; delivered by the next record, run or flush. Default: /var/spool/backupwatch for root, $XDG_STATE_HOME/backupwatch/spool (else ~/.local/state/backupwatch/spool) for other users.").
		Envar("BACKUPWATCH_SPOOL_DIR").Default(defaultSpoolDir()).StringVar(&o.dir)
}

func (o *spoolOptions) retryPolicy() spool.Retry {
	if o.retry.Attempts > 0 {
		return o.retry
	}
	return defaultRetry
}

// storeSpoolDir is the spool of the store st under --spool.dir, or "" for
// none: only Vault has a spool, the local store is on the same disk as a
// spool would be.
func storeSpoolDir(g *globals, st fmt.Stringer) string {
	if g.spool.dir == "" || !g.store.usesVault() {
		return ""
	}
	return deliver.SpoolDir(g.spool.dir, st.String())
}

// newDeliverer delivers to st through its spool.
func newDeliverer(g *globals, st recordStore) (*deliver.Deliverer, error) {
	o := deliver.Options{Store: st, SpoolDir: storeSpoolDir(g, st), Logger: g.logger, MaxJobsPerHost: g.store.maxJobs}
	if g.spool.dir != "" && g.store.usesVault() {
		o.JobsDir = deliver.JobsDir(g.spool.dir, st.String())
	}
	if g.nudges == nil {
		s, err := g.store.nudgeSender(g.logger)
		if err != nil {
			return nil, err
		}
		g.nudges = s
	}
	if g.nudges != nil {
		o.Written = func(e spool.Entry) { g.nudges.Send(nudgeTarget(e)) }
	}
	return deliver.New(o)
}

// spoolMetrics are the metrics of the spool of st on this host, for
// serve; none without a spool.
func spoolMetrics(g *globals, st fmt.Stringer) ([]prometheus.Collector, error) {
	dir := storeSpoolDir(g, st)
	if dir == "" {
		return nil, nil
	}
	c, err := deliver.NewCollector(dir)
	if err != nil {
		return nil, err
	}
	return []prometheus.Collector{c}, nil
}
