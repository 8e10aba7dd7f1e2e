package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"time"

	"github.com/alecthomas/kingpin/v2"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/golemtrust/backupwatch/internal/deadman"
)

// defaultDeadmanAddress is deadman's port, next to serve's.
const defaultDeadmanAddress = ":10037"

type deadmanOptions struct {
	web       *toolkitweb.FlagConfig
	timeout   time.Duration
	reminder  time.Duration
	senders   []string
	stateFile string
	slackFile string
	email     struct {
		smarthost, from, username, passwordFile string
		to                                      []string
		requireTLS                              bool
	}
}

// Registered through extraCommands so that it merges beside other
// subcommands without touching main.go.
func init() {
	prev := extraCommands
	extraCommands = func(app *kingpin.Application, g *globals) []command {
		return append(prev(app, g), addDeadmanCommand(app, g))
	}
}

func addDeadmanCommand(app *kingpin.Application, g *globals) command {
	o := &deadmanOptions{}
	c := app.Command("deadman", "Run the dead man's switch, on another machine than Prometheus and Alertmanager: take heartbeats at /heartbeat and tell a person directly, by Slack and email, when they stop.")
	o.web = kingpinflag.AddFlags(c, defaultDeadmanAddress)
	c.GetFlag("web.listen-address").Help("Addresses to take heartbeats (/heartbeat) and serve /metrics on (repeatable). The default, " + defaultDeadmanAddress + ", is that port on every address.")
	c.GetFlag("web.config.file").Help("exporter-toolkit web config file enabling TLS or basic authentication (https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md); default: none, plain HTTP without authentication.")
	c.Flag("timeout", "A sender is silent after this long without a heartbeat; by default 10m, ten heartbeats (the shipped route sends one a minute).").Default("10m").DurationVar(&o.timeout)
	c.Flag("reminder", "While every sender is silent, tell again this often; by default once a day.").Default("24h").DurationVar(&o.reminder)
	c.Flag("sender", "An expected sender (repeatable): an Alertmanager's --web.external-url, or the ?sender= of a plain request. Default: none, any heartbeat counts.").PlaceHolder("URL|NAME").StringsVar(&o.senders)
	c.Flag("state.file", "Where what was heard and told is kept across restarts (written atomically); default: none, a restart forgets what was told and may tell a silence again.").PlaceHolder("FILE").StringVar(&o.stateFile)
	c.Flag("slack.webhook-url-file", "File holding the Slack incoming webhook URL (a secret); default: none, no Slack message.").PlaceHolder("FILE").StringVar(&o.slackFile)
	c.Flag("email.smarthost", "SMTP relay, host:port; default: none, no email.").PlaceHolder("HOST:PORT").StringVar(&o.email.smarthost)
	c.Flag("email.from", "The sender's address (with --email.smarthost); default: none.").PlaceHolder("ADDRESS").StringVar(&o.email.from)
	c.Flag("email.to", "A recipient (repeatable); required with --email.smarthost, default: none.").PlaceHolder("ADDRESS").StringsVar(&o.email.to)
	c.Flag("email.require-tls", "Send only over STARTTLS (as Alertmanager's smtp_require_tls); true by default: --no-email.require-tls for a relay on the same machine.").Default("true").BoolVar(&o.email.requireTLS)
	c.Flag("email.auth-username", "SMTP AUTH PLAIN username (only over TLS, or to localhost); default: none, no AUTH.").PlaceHolder("USER").StringVar(&o.email.username)
	c.Flag("email.auth-password-file", "File holding the SMTP AUTH password (a secret); default: none, needed with --email.auth-username.").PlaceHolder("FILE").StringVar(&o.email.passwordFile)
	return command{c, func(ctx context.Context) error { return runDeadman(ctx, g, o) }}
}

// notifiers checks the flags and returns who is told.
func (o *deadmanOptions) notifiers() ([]deadman.Notifier, error) {
	var errs []error
	if o.timeout < time.Second || o.timeout > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("--timeout must be between 1s and 7d, not %v", o.timeout))
	}
	if o.reminder < o.timeout {
		errs = append(errs, fmt.Errorf("--reminder (%v) must be at least --timeout (%v)", o.reminder, o.timeout))
	}
	var ns []deadman.Notifier
	if o.slackFile != "" {
		u, err := deadman.ReadSecretFile(o.slackFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--slack.webhook-url-file: %w", err))
		}
		ns = append(ns, &deadman.Slack{URL: u, Client: &http.Client{Timeout: deadman.NotifyTimeout}})
	}
	e := o.email
	if e.smarthost != "" || e.from != "" || len(e.to) > 0 {
		if _, _, err := net.SplitHostPort(e.smarthost); err != nil {
			errs = append(errs, fmt.Errorf("--email.smarthost must be host:port, not %q", e.smarthost))
		}
		for _, a := range append([]string{e.from}, e.to...) {
			if _, err := mail.ParseAddress(a); err != nil {
				errs = append(errs, fmt.Errorf("--email.from and --email.to must be addresses, not %q", a))
			}
		}
		if len(e.to) == 0 {
			errs = append(errs, errors.New("--email.to is required with --email.smarthost"))
		}
		n := &deadman.Email{Smarthost: e.smarthost, From: e.from, To: e.to, RequireTLS: e.requireTLS, Username: e.username}
		if e.passwordFile != "" {
			p, err := deadman.ReadSecretFile(e.passwordFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("--email.auth-password-file: %w", err))
			}
			n.Password = p
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		errs = append(errs, errors.New("nobody to tell: give --slack.webhook-url-file, --email.smarthost, or both"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, usageError{err}
	}
	return ns, nil
}

func runDeadman(ctx context.Context, g *globals, o *deadmanOptions) error {
	ns, err := o.notifiers()
	if err != nil {
		return err
	}
	if o.web.WebConfigFile != nil && *o.web.WebConfigFile != "" {
		if err := toolkitweb.Validate(*o.web.WebConfigFile); err != nil {
			return usageError{fmt.Errorf("--web.config.file: %w", err)}
		}
	}
	if o.stateFile == "" {
		g.logger.Warn("no --state.file: a restart forgets what was told, and may tell a silence again")
	}
	sw, err := deadman.New(deadman.Options{Senders: o.senders, Timeout: o.timeout, Reminder: o.reminder,
		StateFile: o.stateFile, Notifiers: ns, Logger: g.logger})
	if err != nil {
		return usageError{fmt.Errorf("--sender: %w", err)}
	}
	names := []string{}
	for _, n := range ns {
		names = append(names, n.Name())
	}
	every := deadman.CheckEvery(o.timeout)
	g.logger.Info("starting backupwatch deadman", "timeout", o.timeout, "reminder", o.reminder, "senders", len(o.senders), "notifiers", names, "check_every", every)
	return sw.Serve(ctx, o.web, every, g.logger)
}
