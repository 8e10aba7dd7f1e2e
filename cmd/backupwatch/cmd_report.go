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
	src, ok := st.(report.Source)
	if !ok {
		return fmt.Errorf("report: %s keeps no history", st.String())
	}
	now := time.Now()
	if o.now != nil {
		now = o.now()
	}
	rep, err := report.Load(ctx, src, opts, cfg.HostLabels, now.Add(-period), now)
	if err != nil {
		return err
	}
	switch {
	case mailer == nil && o.format == "html":
		return rep.WriteHTML(g.stdout)
	case mailer == nil:
		return rep.WriteText(g.stdout)
	}
	m, err := rep.Message()
	if err != nil {
		return err
	}
	if err := mailer.Notify(ctx, m); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	g.logger.Info("report mailed", "to", strings.Join(o.mail.to, ","), "runs", rep.Runs)
	return nil
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
