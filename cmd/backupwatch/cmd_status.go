package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
}

func addStatusCommand(app *kingpin.Application, g *globals) command {
	o := &statusOptions{}
	c := app.Command("status", "Show every host's backup status; exits 3 when a host is overdue, failed or unknown, when the last restore test failed, or when there are no hosts at all.")
	c.Flag("host", "Only this host (repeatable); a named host with no record is shown as unknown. The restore test is then shown but does not change the exit status.").StringsVar(&o.hosts)
	c.Flag("config.file", "YAML file listing expected hosts, as for serve: an expected host with no record is shown as unknown.").StringVar(&o.configFile)
	c.Flag("output", "Output format: table or json.").PlaceHolder("table|json").Short('o').Default("table").EnumVar(&o.output, "table", "json")
	c.Flag("max-age", "A host whose last success is older than this is overdue.").Default("24h").DurationVar(&o.maxAge)
	return command{c, func(ctx context.Context) error { return runStatus(ctx, g, o) }}
}

// hostStatus is one row of `status`, also its JSON form.
type hostStatus struct {
	Host        string   `json:"host"`
	Status      string   `json:"status"`
	LastSuccess string   `json:"last_success,omitempty"`
	LastFailure string   `json:"last_failure,omitempty"`
	AgeSeconds  *float64 `json:"last_success_age_seconds"` // null: never succeeded
	Overdue     bool     `json:"overdue"`
	Problems    []string `json:"problems,omitempty"`
}

type restoreTestStatus struct {
	LastTest   string   `json:"last_test,omitempty"`
	Result     string   `json:"result"`
	HostTested string   `json:"host_tested,omitempty"`
	AgeSeconds *float64 `json:"age_seconds"`
	Problems   []string `json:"problems,omitempty"`
}

type statusReport struct {
	Hosts       []hostStatus       `json:"hosts"`
	RestoreTest *restoreTestStatus `json:"restore_test,omitempty"`
	Problems    []string           `json:"problems,omitempty"`
}

func runStatus(ctx context.Context, g *globals, o *statusOptions) error {
	for _, h := range o.hosts {
		if err := status.ValidateHost(h); err != nil {
			return usageError{err}
		}
	}
	expected := o.hosts
	if o.configFile != "" {
		cfg, err := config.Load(o.configFile)
		if err != nil {
			return usageError{err}
		}
		if len(o.hosts) == 0 {
			expected = cfg.Hosts
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
	snap := fleet.Load(ctx, src, fleet.Options{Expected: expected}, nil)
	if snap.Err != nil {
		return snap.Err
	}
	rep := buildReport(snap, o.maxAge, time.Now())
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
		if h.Overdue || h.Status != status.Success {
			return &exitCode{code: exitUnhealthy}
		}
	}
	if rt := rep.RestoreTest; rt != nil && rt.Result != status.Passed && !narrowed {
		return &exitCode{code: exitUnhealthy}
	}
	return nil
}

// onlyHosts narrows a store's listing to the named hosts (and the restore test).
type onlyHosts struct {
	recordStore
	hosts []string
}

func (o onlyHosts) List(ctx context.Context) ([]string, error) {
	return append([]string{status.RestoreTestKey}, o.hosts...), nil
}

func buildReport(snap *fleet.Snapshot, maxAge time.Duration, now time.Time) statusReport {
	rep := statusReport{Hosts: []hostStatus{}, Problems: snap.Problems}
	for _, r := range snap.Hosts {
		hs := hostStatus{Host: r.Host, Status: r.Status, Problems: r.Problems, Overdue: true}
		if !r.LastSuccess.IsZero() {
			hs.LastSuccess = status.FormatTime(r.LastSuccess)
			age := now.Sub(r.LastSuccess).Seconds()
			hs.AgeSeconds = &age
			hs.Overdue = age > maxAge.Seconds()
		}
		if !r.LastFailure.IsZero() {
			hs.LastFailure = status.FormatTime(r.LastFailure)
		}
		rep.Hosts = append(rep.Hosts, hs)
	}
	if rt := snap.RestoreTest; rt != nil {
		rs := &restoreTestStatus{Result: rt.Result, HostTested: rt.HostTested, Problems: rt.Problems}
		if !rt.LastTest.IsZero() {
			rs.LastTest = status.FormatTime(rt.LastTest)
			age := now.Sub(rt.LastTest).Seconds()
			rs.AgeSeconds = &age
		}
		rep.RestoreTest = rs
	}
	return rep
}

func writeStatusTable(w io.Writer, rep statusReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATUS\tLAST SUCCESS\tAGE\tLAST FAILURE\tPROBLEMS")
	for _, h := range rep.Hosts {
		st := h.Status
		if h.Overdue {
			st += " (overdue)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Host, st, orDash(h.LastSuccess), age(h.AgeSeconds), orDash(h.LastFailure), strings.Join(h.Problems, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rt := rep.RestoreTest; rt != nil {
		fmt.Fprintf(w, "\nrestore test: %s on %s, %s (%s ago)\n", rt.Result, orDash(rt.HostTested), orDash(rt.LastTest), age(rt.AgeSeconds))
	} else {
		fmt.Fprintln(w, "\nrestore test: none recorded")
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
