package main

import (
	"errors"
	"fmt"
	"slices"

	"github.com/alecthomas/kingpin/v2"
	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/status"
)

// fleetOptions are the flags that choose which hosts are exported; serve,
// textfile and check share them.
type fleetOptions struct {
	hosts      []string
	configFile string
}

func (o *fleetOptions) addFlags(c *kingpin.CmdClause) {
	c.Flag("host", "A host expected to report (repeatable): exported as unknown while it has no record. Hosts found in the store are always exported.").StringsVar(&o.hosts)
	c.Flag("config.file", "YAML config file; default: none (only --host, and the hosts found in the store). Keys: hosts: the expected hosts, each a name or {name, jobs: [names], every or cron, tz, grace}; schedules: [{host, job, every or cron, tz, grace}], by pattern, overriding the records'; title: the page's. An unknown key is an error; `backupwatch check --config.file=FILE` validates it. Reference: "+configReference+".").StringVar(&o.configFile)
}

// load validates the flags and reads the config file: the expected hosts
// (flags and file together) and the file's content.
func (o *fleetOptions) load() ([]string, *config.Config, error) {
	cfg := &config.Config{}
	if o.configFile != "" {
		var err error
		if cfg, err = config.Load(o.configFile); err != nil {
			return nil, nil, usageError{err}
		}
	}
	var errs []error
	for _, h := range o.hosts {
		if err := status.ValidateHost(h); err != nil {
			errs = append(errs, fmt.Errorf("--host: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, usageError{err}
	}
	hosts := append(slices.Clone(cfg.Hosts), o.hosts...)
	slices.Sort(hosts)
	return slices.Compact(hosts), cfg, nil
}
