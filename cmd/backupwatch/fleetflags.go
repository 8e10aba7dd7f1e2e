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
	c.Flag("host", "A host expected to report (repeatable): exported as unknown while it has no record; default: none. Hosts found in the store are always exported.").StringsVar(&o.hosts)
	c.Flag("config.file", "YAML config file; default: none (only --host, and the hosts found in the store). Keys: title: the page's heading; hosts: the expected hosts, each a name or {name:, a schedule, labels: {team: dba, owner: ..., any key}, page_after:, jobs: [{name:, a schedule, page_after:}]}; schedules: [{host:, job: (patterns), a schedule, labels:, page_after:}], overriding the records'; page_after: {failures: 3, or: 12h}, when a failure pages rather than warns (not set: at once); pings: where run pings a checker; retention: the policies repo-check judges; max_jobs_per_host: (100). A schedule is every: 12h, or cron: \"0 3 * * *\" with tz:, and grace:. An unknown key is an error; `backupwatch check --config.file=FILE` validates it. Reference, with an example for 40 hosts: "+configReference+".").StringVar(&o.configFile)
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
