package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/ping"
)

// pingFlags are the flags of the commands that ping an outside checker
// (healthchecks, Uptime Kuma) at their start and end.
type pingFlags struct {
	url, urlFile string
	kind         string
	kindSet      bool
	configFile   string
}

func (f *pingFlags) add(c *kingpin.CmdClause) {
	c.Flag("ping.url", "Checker to ping at the start and the end (healthchecks: <url>/start, <url>, <url>/fail, with the output's tail). A capability: prefer --ping.url-file, a command line is seen by every user. Default: none, no ping unless --ping.url-file or --config.file's pings: name one.").PlaceHolder("URL").Envar("BACKUPWATCH_PING_URL").StringVar(&f.url)
	c.Flag("ping.url-file", "File holding the checker's URL (first line); default: none, see --ping.url.").PlaceHolder("FILE").Envar("BACKUPWATCH_PING_URL_FILE").StringVar(&f.urlFile)
	c.Flag("ping.kind", "The checker's protocol: healthchecks (the default: healthchecks.io or self-hosted) or uptime-kuma (a push monitor's URL).").Default(ping.Healthchecks).IsSetByUser(&f.kindSet).EnumVar(&f.kind, ping.Kinds...)
	c.Flag("config.file", "The fleet's config file: its pings key says where this run pings (a URL pattern with {host} and {job}, or per host or host@job), unless --ping.url says.").PlaceHolder("FILE").StringVar(&f.configFile)
}

// resolve is the pinger of a run of host's job, nil when none is asked
// for. A bad URL, file or config is a usage error (exit 2), found before
// the run starts; no error quotes a URL.
func (f *pingFlags) resolve(host, job string, log *slog.Logger) (*ping.Pinger, error) {
	kind, u := f.kind, f.url
	switch {
	case f.url != "" && f.urlFile != "":
		return nil, usageError{errors.New("--ping.url and --ping.url-file: give one")}
	case f.urlFile != "":
		var err error
		if u, err = ping.ReadURLFile(f.urlFile); err != nil {
			return nil, usageError{fmt.Errorf("--ping.url-file: %w", err)}
		}
	case f.url != "":
		if err := ping.CheckURL(f.url); err != nil {
			return nil, usageError{fmt.Errorf("--ping.url: %w", err)}
		}
	case f.configFile != "":
		cfg, err := config.Load(f.configFile)
		if err != nil {
			return nil, usageError{err}
		}
		k, cu, ok := cfg.PingURL(host, job)
		if !ok {
			return nil, nil
		}
		u = cu
		if !f.kindSet {
			kind = k
		}
		if err := ping.CheckURL(u); err != nil {
			return nil, usageError{fmt.Errorf("config %s: pings for %s: %w", f.configFile, host, err)}
		}
	default:
		return nil, nil
	}
	p, err := ping.New(kind, u, log)
	if err != nil {
		return nil, usageError{err}
	}
	return p, nil
}
