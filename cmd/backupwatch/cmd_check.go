package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/golemtrust/backupwatch/internal/collector"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

type checkOptions struct {
	serve         serveOptions
	webConfigFile string
}

func addCheckCommand(app *kingpin.Application, g *globals) command {
	o := &checkOptions{}
	c := app.Command("check", "Validate the store flags, the config file and serve's flags without running anything or contacting the store; exits 2 on a problem.")
	c.Flag("web.config.file", "exporter-toolkit web configuration (TLS, basic auth) to validate.").StringVar(&o.webConfigFile)
	c.Flag("refresh.interval", "As for serve.").Default(collector.DefaultInterval.String()).DurationVar(&o.serve.interval)
	c.Flag("refresh.concurrency", "As for serve.").Default(fmt.Sprint(collector.DefaultWorkers)).IntVar(&o.serve.concurrency)
	o.serve.fleet.addFlags(c)
	return command{c, func(ctx context.Context) error { return runCheck(ctx, g, o) }}
}

func runCheck(ctx context.Context, g *globals, o *checkOptions) error {
	var errs []error
	say := func(format string, args ...any) { fmt.Fprintf(g.stdout, format+"\n", args...) }

	if err := o.serve.validate(); err != nil {
		errs = append(errs, err)
	} else {
		say("refresh: every %v, %d records at a time", o.serve.interval, o.serve.concurrency)
	}
	if hosts, cfg, err := o.serve.fleet.load(); err != nil {
		errs = append(errs, err)
	} else {
		if o.serve.fleet.configFile != "" {
			say("config file %s: %d hosts, title %q", o.serve.fleet.configFile, len(cfg.Hosts), cfg.Title)
		}
		say("expected hosts: %d (hosts found in the store are exported too)", len(hosts))
	}
	if o.webConfigFile != "" {
		if err := toolkitweb.Validate(o.webConfigFile); err != nil {
			errs = append(errs, fmt.Errorf("--web.config.file %s: %w", o.webConfigFile, err))
		} else {
			say("web config file %s: valid", o.webConfigFile)
		}
	}
	if err := checkStore(g, say); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return usageError{err}
	}
	say("OK")
	return nil
}

// checkStore validates the store flags without touching the network or
// creating anything. Secret files are checked for being readable and
// private; their content is never shown.
func checkStore(g *globals, say func(string, ...any)) error {
	o := &g.store
	if err := g.validate(); err != nil {
		return err
	}
	if !o.usesVault() {
		fi, err := os.Stat(o.localDir)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("--store.dir %s is not a directory", o.localDir)
		case err == nil:
			say("store: local store %s", o.localDir)
		default:
			say("store: local store %s (does not exist yet: record and run create it; status, serve and textfile refuse it)", o.localDir)
		}
		return nil
	}
	st, err := o.open(g, 1)
	if err != nil {
		return err
	}
	var errs []error
	v := o.vault
	for _, f := range []struct{ flag, path string }{
		{"--vault.token-file", v.TokenFile},
		{"--vault.role-id-file", v.RoleIDFile},
		{"--vault.secret-id-file", v.SecretIDFile},
	} {
		if f.path == "" {
			continue
		}
		allowInsecure := v.AllowInsecureFilePerms || f.flag == "--vault.role-id-file"
		if _, err := vaultkv.ReadSecretFile(f.path, allowInsecure); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.flag, err))
		}
	}
	if v.TokenFile == "" && v.RoleIDFile == "" && os.Getenv("VAULT_TOKEN") == "" {
		errs = append(errs, errors.New("no Vault credentials: set VAULT_TOKEN, --vault.token-file or --vault.role-id-file"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	say("store: %s", st.String())
	return nil
}
