// Package statusview is what `backupwatch status` shows: a row per host
// and job with its deadline, the restore tests, and whether that is a
// problem, as the alerts judge it.
package statusview

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Row is one row of the status view, also its JSON form: a host's own
// record, or one of its jobs.
type Row struct {
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
	// Record is the record the row shows, for judges with thresholds of
	// their own (internal/nagios); not part of the JSON form.
	Record status.Record `json:"-"`
}

// RestoreTest is the restore test (or one of a job) as the view shows it.
type RestoreTest struct {
	Job        string   `json:"job,omitempty"`
	LastTest   string   `json:"last_test,omitempty"`
	Result     string   `json:"result"`
	HostTested string   `json:"host_tested,omitempty"`
	AgeSeconds *float64 `json:"age_seconds"`
	// Overdue: older than status.RestoreTestInterval, as RestoreTestOverdue.
	Overdue  bool     `json:"overdue"`
	Problems []string `json:"problems,omitempty"`
}

// Report is the status view: every row, the restore tests and the
// store's problems.
type Report struct {
	Hosts       []Row        `json:"hosts"`
	RestoreTest *RestoreTest `json:"restore_test,omitempty"`
	// RestoreTestJobs are the restore tests recorded with --job.
	RestoreTestJobs []RestoreTest `json:"restore_test_jobs,omitempty"`
	// Pauses are the pauses in force (`backupwatch pause`): their
	// hosts' or jobs' alerts are held back until they end.
	Pauses   []Pause  `json:"pauses,omitempty"`
	Problems []string `json:"problems,omitempty"`
	// AlertingPath is each dead man's switch read (--deadman.url).
	AlertingPath []AlertingPath `json:"alerting_path,omitempty"`
}

// Pause is a pause in force as the view shows it.
type Pause struct {
	Host   string `json:"host"`
	Job    string `json:"job,omitempty"`
	Until  string `json:"until"`
	Reason string `json:"reason"`
}

// Build makes the rows: each host's own record and its jobs, sorted
// by host and job. A record is overdue when now is past its deadline (its
// schedule; the runbook's 24 hours without one), or with maxAge > 0 when its
// last success is older than that.
func Build(snap *fleet.Snapshot, maxAge time.Duration, now time.Time) Report {
	rep := Report{Hosts: []Row{}, Problems: snap.Problems}
	records := append(snap.Hosts.Slice(), snap.Jobs.Slice()...)
	slices.SortStableFunc(records, func(a, b status.Record) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.Job, b.Job)
	})
	for _, r := range records {
		hs := Row{Host: r.Host, Job: r.Job, Status: r.Status, Schedule: r.Schedule.String(), Problems: r.Problems, Overdue: true, Record: r}
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
	restoreStatus := func(rt status.RestoreTest) *RestoreTest {
		rs := &RestoreTest{Job: rt.Job, Result: rt.Result, HostTested: rt.HostTested, Problems: rt.Problems}
		if !rt.LastTest.IsZero() {
			rs.LastTest = status.FormatTime(rt.LastTest)
			age := now.Sub(rt.LastTest).Seconds()
			rs.AgeSeconds = &age
		}
		rs.Overdue = rt.LastTest.IsZero() || now.Sub(rt.LastTest) > status.RestoreTestInterval
		return rs
	}
	if rt := snap.RestoreTest; rt != nil {
		rep.RestoreTest = restoreStatus(*rt)
	}
	for _, rt := range snap.RestoreTestJobs {
		rep.RestoreTestJobs = append(rep.RestoreTestJobs, *restoreStatus(rt))
	}
	for _, p := range snap.Pauses {
		if p.Active(now) {
			rep.Pauses = append(rep.Pauses, Pause{Host: p.Host, Job: p.Job, Until: status.FormatTime(p.Until), Reason: p.Reason})
		}
	}
	return rep
}

// Unhealthy says why the view is a problem, as the alerts have it: a host
// overdue, failed, unknown or running too long; a restore test failed,
// overdue or never recorded (unless the view is narrowed to named hosts);
// a dead man's switch given that is unreachable or hears a sender silent;
// or no hosts at all: a monitoring command that sees nothing must not say
// that all is well. "" when all is well.
func Unhealthy(rep Report, narrowed bool) string {
	if len(rep.Hosts) == 0 {
		return "no hosts"
	}
	for _, h := range rep.Hosts {
		if h.Overdue || h.Status != status.Success || h.RunTooLong {
			name := h.Host
			if h.Job != "" {
				name += "@" + h.Job
			}
			return "host " + name + " is " + h.Status + overdue(h.Overdue)
		}
	}
	if why := alertingProblem(rep); why != "" {
		return why
	}
	if narrowed {
		return ""
	}
	// As RestoreTestOverdue and RestoreTestFailed: none recorded, failed,
	// or older than status.RestoreTestInterval.
	if rt := rep.RestoreTest; rt == nil {
		return "no restore test recorded"
	} else if rt.Result != status.Passed || rt.Overdue {
		return "the restore test is " + rt.Result + overdue(rt.Overdue)
	}
	for _, rt := range rep.RestoreTestJobs {
		if rt.Result != status.Passed || rt.Overdue {
			return "restore test " + rt.Job + " is " + rt.Result + overdue(rt.Overdue)
		}
	}
	return ""
}

// OnlyJob narrows rep to the rows of job (on every host it holds): a
// check of one job across the fleet, or of one host's job with --host.
func OnlyJob(rep Report, job string) Report {
	rows := make([]Row, 0, len(rep.Hosts))
	for _, r := range rep.Hosts {
		if r.Job == job {
			rows = append(rows, r)
		}
	}
	rep.Hosts = rows
	return rep
}

// OnlyHosts narrows a store's listing to the named hosts (and the restore test).
type OnlyHosts struct {
	Store
	Hosts []string
}

// Store is what the view reads: a fleet source that lists folders.
type Store interface {
	fleet.Source
	ListFolder(ctx context.Context, folder string) ([]string, error)
}

func (o OnlyHosts) List(ctx context.Context) ([]string, error) {
	return append([]string{status.RestoreTestKey, status.JobsFolder + "/", status.PausesFolder + "/"}, o.Hosts...), nil
}

// ListFolder lists the jobs (and pauses) of the named hosts only.
func (o OnlyHosts) ListFolder(ctx context.Context, folder string) ([]string, error) {
	names, err := o.Store.ListFolder(ctx, folder)
	return slices.DeleteFunc(names, func(n string) bool {
		h, _, _ := strings.Cut(n, "@")
		return !slices.Contains(o.Hosts, h)
	}), err
}

// WriteTable writes rep as the table `backupwatch status` prints.
func WriteTable(w io.Writer, rep Report) error {
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
		fmt.Fprintf(w, "\nrestore test: %s on %s, %s (%s ago%s)\n", rt.Result, orDash(rt.HostTested), orDash(rt.LastTest), age(rt.AgeSeconds), overdue(rt.Overdue))
	} else {
		fmt.Fprintln(w, "\nrestore test: none recorded")
	}
	for _, rt := range rep.RestoreTestJobs {
		fmt.Fprintf(w, "restore test %s: %s on %s, %s (%s ago%s)\n", rt.Job, rt.Result, orDash(rt.HostTested), orDash(rt.LastTest), age(rt.AgeSeconds), overdue(rt.Overdue))
	}
	for _, p := range rep.Pauses {
		// Quoted: a reason written to the store by other means may hold
		// anything, and this is a terminal.
		fmt.Fprintf(w, "%s: paused until %s: %q\n", status.Name(p.Host, p.Job), p.Until, p.Reason)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
	writeAlertingPath(w, rep)
	return nil
}

func overdue(b bool) string {
	if b {
		return ", overdue"
	}
	return ""
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
