package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/golemtrust/backupwatch/internal/preflight"
	"github.com/golemtrust/backupwatch/internal/status"
)

type checkOptions struct {
	serve      serveOptions
	online     bool
	onlineRole string
	onlineHost string
}

func addCheckCommand(app *kingpin.Application, g *globals) command {
	o := &checkOptions{}
	c := app.Command("check", "Validate the global flags, the config file and serve's flags (check takes them all, so a serve line can be checked as it is) without running anything; with --online, also log in to the store and check what the credentials may do. Exits 2 on a bad flag or file, 1 when --online finds a problem.")
	o.serve.addFlags(c)
	c.Flag("online", "Also contact the store: log in, read under the prefix, and check (sys/capabilities-self, nothing written) that the credentials can do what --online.role needs.").BoolVar(&o.online)
	c.Flag("online.role", "What the credentials are for, as the policies in deploy/vault: writer (record, run: write --online.host's record), exporter (serve, textfile, status: list and read every record) or restore-tester (write the restore test record); default: writer.").
		PlaceHolder("writer|exporter|restore-tester").Default(preflight.Writer).EnumVar(&o.onlineRole, preflight.Writer, preflight.Exporter, preflight.RestoreTester)
	c.Flag("online.host", "With --online.role=writer: the host whose record the credentials must write; default: this machine's short host name.").StringVar(&o.onlineHost)
	return command{c, func(ctx context.Context) error { return runCheck(ctx, g, o) }}
}

func runCheck(ctx context.Context, g *globals, o *checkOptions) error {
	var errs []error
	var say preflight.Say = func(format string, args ...any) { fmt.Fprintf(g.stdout, format+"\n", args...) }

	if err := o.serve.validate(); err != nil {
		errs = append(errs, err)
	} else {
		say("refresh: every %v, %d records at a time", o.serve.settings.Interval, o.serve.settings.Concurrency)
	}
	if err := preflight.ListenAddresses(*o.serve.web.WebListenAddresses); err != nil {
		errs = append(errs, err)
	} else if !*o.serve.web.WebSystemdSocket {
		say("listen: %s", strings.Join(*o.serve.web.WebListenAddresses, ", "))
	}
	if hosts, cfg, err := o.serve.fleet.load(); err != nil {
		errs = append(errs, err)
	} else {
		if o.serve.fleet.configFile != "" {
			say("config file %s: %d hosts, %d jobs, %d schedules, title %q", o.serve.fleet.configFile, len(cfg.Hosts), len(cfg.Jobs), len(cfg.Schedules), cfg.Title)
		}
		say("expected hosts: %d (hosts found in the store are exported too)", len(hosts))
	}
	if f := *o.serve.web.WebConfigFile; f != "" {
		if err := toolkitweb.Validate(f); err != nil {
			errs = append(errs, fmt.Errorf("--web.config.file %s: %w", f, err))
		} else {
			say("web config file %s: valid", f)
		}
	}
	if (o.onlineHost != "" || o.onlineRole != preflight.Writer) && !o.online {
		errs = append(errs, errors.New("--online.role and --online.host need --online"))
	}
	if o.onlineHost != "" {
		if err := status.ValidateHost(o.onlineHost); err != nil {
			errs = append(errs, fmt.Errorf("--online.host: %w", err))
		}
	}
	if err := checkStore(g, say); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	if o.online {
		if err := checkOnline(ctx, g, o, say); err != nil {
			return err
		}
	}
	say("OK")
	return nil
}

// checkOnline opens the store with the real credentials for preflight.Online.
func checkOnline(ctx context.Context, g *globals, o *checkOptions, say preflight.Say) error {
	st, err := g.store.openRead(g, 1)
	if err != nil {
		return err
	}
	hostKey := func() (string, error) { return resolveHost(o.onlineHost, false) }
	return preflight.Online(ctx, st, o.onlineRole, hostKey, say)
}

// checkStore validates the store flags without touching the network or
// creating anything.
func checkStore(g *globals, say preflight.Say) error {
	o := &g.store
	if err := g.validate(); err != nil {
		return err
	}
	if !o.usesVault() {
		return preflight.LocalStore(o.localDir, say)
	}
	st, err := o.open(g, 1)
	if err != nil {
		return err
	}
	if err := preflight.VaultCredentials(o.vault); err != nil {
		return err
	}
	say("store: %s", st.String())
	return nil
}
