package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/deadman"
	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/report"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

type reportOptions struct {
	since      string
	configFile string
	format     string           // text or html
	now        func() time.Time // time.Now when nil; tests fix it
	mail       struct {
		to           []string
		smarthost    string
		from         string
		requireTLS   bool
		username     string
		passwordFile string
	}
}

func addReportCommand(app *kingpin.Application, g *globals) command {
	o := &reportOptions{}
	c := app.Command("report", "Print how the fleet's backups went over a period, from the runs the records keep (the last 30 of each): the share of runs that succeeded, what failed, what is overdue, sizes, the restore tests.")
	c.Flag("since", "The period: how far back from now (1h, 24h, 7d); by default the last 7 days.").Default("7d").StringVar(&o.since)
	c.Flag("format", "Output format: text (the default), or html (inline CSS bars, as mail clients render them; printed, not mailed).").Default("text").EnumVar(&o.format, "text", "html")
	c.Flag("config.file", "YAML file listing expected hosts and jobs, as for serve: an expected one with no record is reported as never succeeded, and judged by its schedule. Default: none, only the hosts found in the store.").StringVar(&o.configFile)
	// The SMTP settings of deadman's --email.* flags, under mail.
	c.Flag("mail.to", "Mail the report to this address (repeatable) instead of printing it; default: none, printed.").PlaceHolder("ADDRESS").StringsVar(&o.mail.to)
	c.Flag("mail.smarthost", "SMTP relay, host:port (with --mail.to).").PlaceHolder("HOST:PORT").StringVar(&o.mail.smarthost)
	c.Flag("mail.from", "The sender's address (with --mail.to).").PlaceHolder("ADDRESS").StringVar(&o.mail.from)
	c.Flag("mail.require-tls", "Send only over STARTTLS; true by default: --no-mail.require-tls for a relay on the same machine.").Default("true").BoolVar(&o.mail.requireTLS)
	c.Flag("mail.auth-username", "SMTP AUTH PLAIN username (only over TLS, or to localhost); default: none, no AUTH.").PlaceHolder("USER").StringVar(&o.mail.username)
	c.Flag("mail.auth-password-file", "File holding the SMTP AUTH password (a secret); default: none, needed with --mail.auth-username.").PlaceHolder("FILE").StringVar(&o.mail.passwordFile)
	return command{c, func(ctx context.Context) error { return runReport(ctx, g, o) }}
}

// detailer reads a record with its history: both stores do.
type detailer interface {
	Detail(ctx context.Context, key string) (map[string]any, error)
}

func runReport(ctx context.Context, g *globals, o *reportOptions) error {
	period, err := schedule.ParseDuration(o.since)
	if err != nil || period <= 0 {
		return usageError{fmt.Errorf("--since %q: want a positive duration such as 7d or 24h", status.Truncate(o.since, 40))}
	}
	mailer, err := o.mailer()
	if err != nil {
		return usageError{err}
	}
	var cfg *config.Config
	opts := fleet.Options{}
	if o.configFile != "" {
		if cfg, err = config.Load(o.configFile); err != nil {
			return usageError{err}
		}
		opts.Expected, opts.Jobs, opts.Schedules = cfg.Hosts, cfg.Jobs, cfg
	}
	st, err := g.store.openRead(g, 8)
	if err != nil {
		return err
	}
	d, ok := st.(detailer)
	if !ok {
		return fmt.Errorf("report: %s keeps no history", st.String())
	}
	now := time.Now()
	if o.now != nil {
		now = o.now()
	}
	snap := fleet.Load(ctx, st, opts, nil)
	if snap.Err != nil {
		return snap.Err
	}
	view := statusview.Build(snap, 0, now)
	records := make([]report.Record, 0, len(view.Hosts))
	for _, row := range view.Hosts {
		r := report.Record{Row: row, Team: team(cfg.HostLabels(row.Host))}
		doc, err := d.Detail(ctx, status.Key(row.Host, row.Job))
		switch {
		case errors.Is(err, status.ErrNotFound), errors.Is(err, status.ErrMalformed):
		case err != nil:
			return fmt.Errorf("report: read the history of %s: %w", status.Name(row.Host, row.Job), err)
		default:
			r.History, _ = status.History(doc)
		}
		records = append(records, r)
	}
	var restore []statusview.RestoreTest
	if view.RestoreTest != nil {
		restore = append(restore, *view.RestoreTest)
	}
	restore = append(restore, view.RestoreTestJobs...)
	rep := report.Build(st.String(), records, restore, now.Add(-period), now)
	switch {
	case mailer == nil && o.format == "html":
		return rep.WriteHTML(g.stdout)
	case mailer == nil:
		return rep.WriteText(g.stdout)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		return err
	}
	var page strings.Builder
	if err := rep.WriteHTML(&page); err != nil {
		return err
	}
	m := deadman.Message{Kind: "report", Title: rep.Title(), Text: text.String(), HTML: page.String()}
	if err := mailer.Notify(ctx, m); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	g.logger.Info("report mailed", "to", strings.Join(o.mail.to, ","), "runs", rep.Runs)
	return nil
}

// team is a host's team for the report: its team label, else its owner
// label (the config file's labels); "" for neither.
func team(labels map[string]string) string {
	if t := labels["team"]; t != "" {
		return t
	}
	return labels["owner"]
}

// mailer is the SMTP sender --mail.* describe; nil without --mail.to.
func (o *reportOptions) mailer() (*deadman.Email, error) {
	m := o.mail
	if len(m.to) == 0 {
		if m.smarthost != "" || m.from != "" {
			return nil, errors.New("--mail.smarthost and --mail.from need --mail.to")
		}
		return nil, nil
	}
	if _, _, err := net.SplitHostPort(m.smarthost); err != nil {
		return nil, fmt.Errorf("--mail.smarthost must be host:port, not %q", status.Truncate(m.smarthost, 80))
	}
	for _, a := range append([]string{m.from}, m.to...) {
		if _, err := mail.ParseAddress(a); err != nil {
			return nil, fmt.Errorf("--mail.from and --mail.to must be addresses, not %q", status.Truncate(a, 80))
		}
	}
	e := &deadman.Email{Smarthost: m.smarthost, From: m.from, To: m.to, RequireTLS: m.requireTLS, Username: m.username}
	if m.passwordFile != "" {
		pw, err := deadman.ReadSecretFile(m.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--mail.auth-password-file: %w", err)
		}
		e.Password = pw
	}
	return e, nil
}
