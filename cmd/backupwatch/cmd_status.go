package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

type statusOptions struct {
	hosts      []string
	configFile string
	output     string
	maxAge     time.Duration
	maxAgeSet  bool
}

func addStatusCommand(app *kingpin.Application, g *globals) command {
	o := &statusOptions{}
	c := app.Command("status", "Show every host's backup status; exits 3 when a host is overdue, failed or unknown, when the last restore test failed, or when there are no hosts at all.")
	c.Flag("host", "Only this host (repeatable); a named host with no record is shown as unknown. The restore test is then shown but does not change the exit status.").StringsVar(&o.hosts)
	c.Flag("config.file", "YAML file listing expected hosts, as for serve: an expected host with no record is shown as unknown.").StringVar(&o.configFile)
	c.Flag("output", "Output format: table (the default, for people) or json (for scripts).").PlaceHolder("table|json").Short('o').Default("table").EnumVar(&o.output, "table", "json")
	c.Flag("max-age", "A host or job whose last success is older than this is overdue, whatever its schedule; default: each one's own deadline (its schedule; 24h when it has none).").Default("24h").IsSetByUser(&o.maxAgeSet).DurationVar(&o.maxAge)
	return command{c, func(ctx context.Context) error { return runStatus(ctx, g, o) }}
}

// hostStatus is one row of `status`, also its JSON form: a host's own
// record, or one of its jobs.
type hostStatus struct {
	Host        string   `json:"host"`
	Job         string   `json:"job,omitempty"`
	Status      string   `json:"status"`
	Schedule    string   `json:"schedule"`
	Deadline    string   `json:"deadline,omitempty"` // when the next success is due; "" for at once (never succeeded)
	Running     bool     `json:"running,omitempty"`  // a run started after the latest result
	RunTooLong  bool     `json:"running_too_long,omitempty"`
	LastSuccess string   `json:"last_success,omitempty"`
	LastFailure string   `json:"last_failure,omitempty"`
	AgeSeconds  *float64 `json:"last_success_age_seconds"` // null: never succeeded
	Overdue     bool     `json:"overdue"`
	Problems    []string `json:"problems,omitempty"`
}

type restoreTestStatus struct {
	Job        string   `json:"job,omitempty"`
	LastTest   string   `json:"last_test,omitempty"`
	Result     string   `json:"result"`
	HostTested string   `json:"host_tested,omitempty"`
	AgeSeconds *float64 `json:"age_seconds"`
	Problems   []string `json:"problems,omitempty"`
}

type statusReport struct {
	Hosts       []hostStatus       `json:"hosts"`
	RestoreTest *restoreTestStatus `json:"restore_test,omitempty"`
	// RestoreTestJobs are the restore tests recorded with --job.
	RestoreTestJobs []restoreTestStatus `json:"restore_test_jobs,omitempty"`
	Problems        []string            `json:"problems,omitempty"`
}

func runStatus(ctx context.Context, g *globals, o *statusOptions) error {
	for _, h := range o.hosts {
		if err := status.ValidateHost(h); err != nil {
			return usageError{err}
		}
	}
	expected := o.hosts
	var cfg *config.Config
	if o.configFile != "" {
		var err error
		if cfg, err = config.Load(o.configFile); err != nil {
			return usageError{err}
		}
		if len(o.hosts) == 0 {
			expected = cfg.Hosts
		}
	}
	var jobs []status.JobID
	if cfg != nil {
		for _, id := range cfg.Jobs {
			if len(o.hosts) == 0 || slices.Contains(o.hosts, id.Host) {
				jobs = append(jobs, id)
			}
		}
	}
	st, err := g.store.openRead(g, 8)
	if err != nil {
		return err
	}
	src := fleet.Source(st)
	if len(o.hosts) > 0 {
		src = onlyHosts{st, o.hosts}
	}
	opts := fleet.Options{Expected: expected, Jobs: jobs}
	if cfg != nil {
		opts.Schedules = cfg
	}
	snap := fleet.Load(ctx, src, opts, nil)
	if snap.Err != nil {
		return snap.Err
	}
	maxAge := time.Duration(0) // each record's own deadline
	if o.maxAgeSet {
		maxAge = o.maxAge
	}
	rep := buildReport(snap, maxAge, time.Now())
	if o.output == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := writeStatusTable(g.stdout, rep); err != nil {
		return err
	}
	return unhealthy(rep, len(o.hosts) > 0, st.String())
}

// unhealthy decides status's exit: 3 for a host overdue, failed or unknown,
// for a failed restore test (unless the report is narrowed to named
// hosts), and for a fleet of no hosts at all: a monitoring command that
// sees nothing must not say that all is well.
func unhealthy(rep statusReport, narrowed bool, store string) error {
	if len(rep.Hosts) == 0 {
		return &exitCode{code: exitUnhealthy, err: fmt.Errorf("no hosts: %s has no records and no host is expected (--config.file, --host)", store)}
	}
	for _, h := range rep.Hosts {
		if h.Overdue || h.Status != status.Success || h.RunTooLong {
			return &exitCode{code: exitUnhealthy}
		}
	}
	if rt := rep.RestoreTest; rt != nil && rt.Result != status.Passed && !narrowed {
		return &exitCode{code: exitUnhealthy}
	}
	for _, rt := range rep.RestoreTestJobs {
		if rt.Result != status.Passed && !narrowed {
			return &exitCode{code: exitUnhealthy}
		}
	}
	return nil
}

// onlyHosts narrows a store's listing to the named hosts (and the restore test).
type onlyHosts struct {
	recordStore
	hosts []string
}

func (o onlyHosts) List(ctx context.Context) ([]string, error) {
	return append([]string{status.RestoreTestKey, status.JobsFolder + "/"}, o.hosts...), nil
}

// ListFolder lists the jobs of the named hosts only.
func (o onlyHosts) ListFolder(ctx context.Context, folder string) ([]string, error) {
	names, err := o.recordStore.ListFolder(ctx, folder)
	return slices.DeleteFunc(names, func(n string) bool {
		h, _, _ := strings.Cut(n, "@")
		return !slices.Contains(o.hosts, h)
	}), err
}

// buildReport makes the rows: each host's own record and its jobs, sorted
// by host and job. A record is overdue when now is past its deadline (its
// schedule; the runbook's 24 hours without one), or with maxAge > 0 when its
// last success is older than that.
func buildReport(snap *fleet.Snapshot, maxAge time.Duration, now time.Time) statusReport {
	rep := statusReport{Hosts: []hostStatus{}, Problems: snap.Problems}
	records := slices.Concat(snap.Hosts, snap.Jobs)
	slices.SortStableFunc(records, func(a, b status.Record) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.Job, b.Job)
	})
	for _, r := range records {
		hs := hostStatus{Host: r.Host, Job: r.Job, Status: r.Status, Schedule: r.Schedule.String(), Problems: r.Problems, Overdue: true}
		if !r.LastSuccess.IsZero() {
			hs.LastSuccess = status.FormatTime(r.LastSuccess)
			age := now.Sub(r.LastSuccess).Seconds()
			hs.AgeSeconds = &age
		}
		if d := r.Deadline(now); !d.IsZero() {
			hs.Deadline = status.FormatTime(d.UTC())
			// Without a success, a deadline is its first run's, in
			// progress: due one period after its start, not overdue yet.
			hs.Overdue = now.After(d)
		}
		if maxAge > 0 {
			hs.Overdue = hs.AgeSeconds == nil || *hs.AgeSeconds > maxAge.Seconds()
		}
		if r.Unread || r.NoRecord {
			hs.Overdue = true
		}
		if r.Running() {
			hs.Running = true
			hs.RunTooLong = now.After(r.RunDeadline())
		}
		if !r.LastFailure.IsZero() {
			hs.LastFailure = status.FormatTime(r.LastFailure)
		}
		rep.Hosts = append(rep.Hosts, hs)
	}
	restoreStatus := func(rt status.RestoreTest) *restoreTestStatus {
		rs := &restoreTestStatus{Job: rt.Job, Result: rt.Result, HostTested: rt.HostTested, Problems: rt.Problems}
		if !rt.LastTest.IsZero() {
			rs.LastTest = status.FormatTime(rt.LastTest)
			age := now.Sub(rt.LastTest).Seconds()
			rs.AgeSeconds = &age
		}
		return rs
	}
	if rt := snap.RestoreTest; rt != nil {
		rep.RestoreTest = restoreStatus(*rt)
	}
	for _, rt := range snap.RestoreTestJobs {
		rep.RestoreTestJobs = append(rep.RestoreTestJobs, *restoreStatus(rt))
	}
	return rep
}

func writeStatusTable(w io.Writer, rep statusReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATUS\tLAST SUCCESS\tAGE\tSCHEDULE\tDUE BY\tLAST FAILURE\tPROBLEMS")
	for _, h := range rep.Hosts {
		st := h.Status
		switch {
		case h.RunTooLong:
			st += " (running too long)"
		case h.Overdue:
			st += " (overdue)"
		case h.Running:
			st += " (running)"
		}
		name := h.Host
		if h.Job != "" {
			name += "@" + h.Job
		}
		due := h.Deadline
		if due == "" {
			due = "now"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, st, orDash(h.LastSuccess), age(h.AgeSeconds), h.Schedule, due, orDash(h.LastFailure), strings.Join(h.Problems, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rt := rep.RestoreTest; rt != nil {
		fmt.Fprintf(w, "\nrestore test: %s on %s, %s (%s ago)\n", rt.Result, orDash(rt.HostTested), orDash(rt.LastTest), age(rt.AgeSeconds))
	} else {
		fmt.Fprintln(w, "\nrestore test: none recorded")
	}
	for _, rt := range rep.RestoreTestJobs {
		fmt.Fprintf(w, "restore test %s: %s on %s, %s (%s ago)\n", rt.Job, rt.Result, orDash(rt.HostTested), orDash(rt.LastTest), age(rt.AgeSeconds))
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(secs *float64) string {
	if secs == nil {
		return "never"
	}
	return time.Duration(*secs * float64(time.Second)).Truncate(time.Minute).String()
}
