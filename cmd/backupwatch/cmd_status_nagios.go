package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"

	"github.com/golemtrust/backupwatch/internal/nagios"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

// nagiosFlags are the thresholds of `status --format=nagios`.
type nagiosFlags struct {
	warningAge, criticalAge           time.Duration
	warningAgeSet, criticalAgeSet     bool
	warningFailures, criticalFailures int64
	warningFailSet, criticalFailSet   bool
}

func (f *nagiosFlags) add(c *kingpin.CmdClause) {
	c.Flag("warning.age", "With --format=nagios: WARNING when a last success is older than this, for every record; default: when each record's next success is overdue (its schedule's deadline, as BackupOverdue; the runbook's 24h without a schedule).").Default(hours(nagios.DefaultWarningAge)).IsSetByUser(&f.warningAgeSet).DurationVar(&f.warningAge)
	c.Flag("critical.age", "With --format=nagios: CRITICAL when a last success is older than this, for every record; default: when the success after the next is overdue too (48h without a schedule).").Default(hours(nagios.DefaultCriticalAge)).IsSetByUser(&f.criticalAgeSet).DurationVar(&f.criticalAge)
	c.Flag("warning.failures", "With --format=nagios: WARNING when more consecutive failures than this; the default, 0, warns at the first failure.").Default(fmt.Sprint(nagios.DefaultWarningFailures)).IsSetByUser(&f.warningFailSet).Int64Var(&f.warningFailures)
	c.Flag("critical.failures", "With --format=nagios: CRITICAL when more consecutive failures than this; the default, 1, is critical at the second failure in a row.").Default(fmt.Sprint(nagios.DefaultCriticalFailures)).IsSetByUser(&f.criticalFailSet).Int64Var(&f.criticalFailures)
}

// resolve checks the thresholds: they are the nagios format's only, and
// --max-age is the other formats'.
func (f *nagiosFlags) resolve(isNagios, maxAgeSet bool) (nagios.Thresholds, error) {
	t := nagios.DefaultThresholds()
	if !isNagios {
		if f.warningAgeSet || f.criticalAgeSet || f.warningFailSet || f.criticalFailSet {
			return t, errors.New("--warning.age, --critical.age, --warning.failures and --critical.failures are for --format=nagios; --max-age is the table's and json's")
		}
		return t, nil
	}
	if maxAgeSet {
		return t, errors.New("--max-age is for the table and json: with --format=nagios, use --warning.age and --critical.age")
	}
	if f.warningAgeSet {
		if f.warningAge <= 0 {
			return t, fmt.Errorf("--warning.age must be more than 0, not %s", f.warningAge)
		}
		t.WarningAge = f.warningAge
	}
	if f.criticalAgeSet {
		if f.criticalAge <= 0 {
			return t, fmt.Errorf("--critical.age must be more than 0, not %s", f.criticalAge)
		}
		t.CriticalAge = f.criticalAge
	}
	t.WarningFailures, t.CriticalFailures = f.warningFailures, f.criticalFailures
	return t, t.Validate()
}

// checkNagios writes the check and returns its state as the exit code.
func checkNagios(w io.Writer, store string, rep statusview.Report, t nagios.Thresholds, narrowed bool, now time.Time) error {
	c := nagios.JudgeAll(rep, t, narrowed, now)
	if len(rep.Hosts) == 0 {
		// The store answered but holds nothing to judge: say where.
		return fmt.Errorf("no backups to judge: %s has no matching records and none is expected (--config.file, --host, --job)", store)
	}
	if err := c.Write(w); err != nil {
		return err
	}
	if c.State == nagios.OK {
		return nil
	}
	return &exitCode{code: int(c.State)}
}

// isNagiosCheck reports whether args ask for `status --format=nagios`,
// read before parsing: a check exits UNKNOWN (3) for every problem,
// a flag kingpin refuses included, where other commands exit 2.
func isNagiosCheck(args []string) bool {
	if !slices.Contains(args, "status") {
		return false
	}
	for i, a := range args {
		switch {
		case a == "--format=nagios" || a == "--output=nagios" || a == "-onagios":
			return true
		case (a == "--format" || a == "--output" || a == "-o") && i+1 < len(args) && args[i+1] == "nagios":
			return true
		case a == "--":
			return false
		}
	}
	return false
}

// quietCheck logs only errors unless --log.level says otherwise: Icinga 2
// reads a plugin's standard error with its output, and a log line before
// the summary would be taken for it.
func quietCheck(args []string, cfg *promslog.Config) {
	for _, a := range args {
		if a == "--log.level" || strings.HasPrefix(a, "--log.level=") {
			return
		}
	}
	_ = cfg.Level.Set("error") // a known level
}

// nagiosUnknown ends a check that could not be made: UNKNOWN on stdout,
// where the monitoring system reads it, with why.
func nagiosUnknown(err error, stdout io.Writer) int {
	var ec *exitCode
	if errors.As(err, &ec) && ec.err == nil && ec.code <= int(nagios.Unknown) {
		return ec.code // the check's own state; its output is written
	}
	why := strings.TrimPrefix(err.Error(), "backupwatch: ")
	_ = nagios.WriteUnknown(stdout, why) // nothing is left to tell it to
	return int(nagios.Unknown)
}

// hours writes a whole number of hours as help shows it: 24h, not 24h0m0s.
func hours(d time.Duration) string { return fmt.Sprintf("%gh", d.Hours()) }
