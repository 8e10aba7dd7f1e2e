package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

type checkOptions struct {
	serve      serveOptions
	online     bool
	onlineRole string
	onlineHost string
}

// Roles --online checks for, named as the Vault policies in deploy/vault.
const (
	roleWriter        = "writer"
	roleExporter      = "exporter"
	roleRestoreTester = "restore-tester"
)

func addCheckCommand(app *kingpin.Application, g *globals) command {
	o := &checkOptions{}
	c := app.Command("check", "Validate the global flags, the config file and serve's flags (check takes them all, so a serve line can be checked as it is) without running anything; with --online, also log in to the store and check what the credentials may do. Exits 2 on a bad flag or file, 1 when --online finds a problem.")
	o.serve.addFlags(c)
	c.Flag("online", "Also contact the store: log in, read under the prefix, and check (sys/capabilities-self, nothing written) that the credentials can do what --online.role needs.").BoolVar(&o.online)
	c.Flag("online.role", "What the credentials are for, as the policies in deploy/vault: writer (record, run: write --online.host's record), exporter (serve, textfile, status: list and read every record) or restore-tester (write the restore test record); default: writer.").
		PlaceHolder("writer|exporter|restore-tester").Default(roleWriter).EnumVar(&o.onlineRole, roleWriter, roleExporter, roleRestoreTester)
	c.Flag("online.host", "With --online.role=writer: the host whose record the credentials must write; default: this machine's short host name.").StringVar(&o.onlineHost)
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
	if err := checkListenAddresses(*o.serve.web.WebListenAddresses); err != nil {
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
	if (o.onlineHost != "" || o.onlineRole != roleWriter) && !o.online {
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

// checkListenAddresses refuses what serve could not listen on.
func checkListenAddresses(addrs []string) error {
	var errs []error
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err == nil {
			if _, err = net.LookupPort("tcp", port); err != nil {
				err = fmt.Errorf("port %q", port)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("--web.listen-address %q: not host:port (e.g. :10036): %w", status.Truncate(a, 80), err))
		}
	}
	return errors.Join(errs...)
}

// checkOnline logs in and checks that the credentials can do their job,
// reading but never writing.
func checkOnline(ctx context.Context, g *globals, o *checkOptions, say func(string, ...any)) error {
	st, err := g.store.openRead(g, 1)
	if err != nil {
		return err
	}
	vs, ok := st.(*vaultkv.Store)
	if !ok {
		keys, err := st.List(ctx)
		if err != nil {
			return err
		}
		say("online: %s: %d records, nothing to log in to", st.String(), len(keys))
		return nil
	}
	v, err := vs.KVVersion(ctx)
	if err != nil {
		return err
	}
	say("online: logged in to %s, KV version %d", vs.String(), v)

	key := status.RestoreTestKey
	switch o.onlineRole {
	case roleExporter:
		keys, err := vs.List(ctx)
		if err != nil {
			return fmt.Errorf("the exporter must list the records: %w", err)
		}
		if len(keys) > 0 {
			if _, err := vs.Get(ctx, keys[0]); err != nil && !errors.Is(err, status.ErrNotFound) {
				return fmt.Errorf("the exporter must read every record: %w", err)
			}
		}
		say("online: can list (%d records) and read them", len(keys))
		return nil
	case roleWriter:
		if key, err = resolveHost(o.onlineHost, false); err != nil {
			return err
		}
	}
	caps, err := vs.Capabilities(ctx, key)
	if err != nil {
		return err
	}
	if !vaultkv.CanWrite(caps) {
		return fmt.Errorf("cannot write %s: the token may only %s there (a %s needs create, read and update: see deploy/vault)", vs.Location(key), orNone(caps), o.onlineRole)
	}
	if _, err := vs.Get(ctx, key); err != nil && !errors.Is(err, status.ErrNotFound) {
		return fmt.Errorf("a %s must read its own record: %w", o.onlineRole, err)
	}
	say("online: can write %s (nothing was written)", vs.Location(key))
	return nil
}

func orNone(caps []string) string {
	if len(caps) == 0 || (len(caps) == 1 && caps[0] == "deny") {
		return "do nothing"
	}
	return strings.Join(caps, ", ")
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
