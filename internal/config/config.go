// Package config reads backupwatch's optional configuration file: the hosts
// the fleet is expected to have, beside those found in the store. Unknown
// keys are an error, so a typo never silently drops a host.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v2"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Config is the file's content. The zero value is the default.
type Config struct {
	// Hosts are expected to report: a host listed here with no record is
	// exported as unknown, as in the runbook's fixed list.
	Hosts []string `yaml:"hosts"`
	// Title heads the status page; "Backup status" when empty.
	Title string `yaml:"title"`
}

// maxSize bounds the file: a host list, not a data set.
const maxSize = 4 << 20

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads and validates a configuration.
func Parse(b []byte) (*Config, error) {
	if len(b) > maxSize {
		return nil, fmt.Errorf("file is %d bytes, more than %d", len(b), maxSize)
	}
	c := &Config{}
	if len(bytes.TrimSpace(b)) == 0 {
		return c, nil
	}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// Validate checks every host name and refuses duplicates.
func (c *Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, h := range c.Hosts {
		if err := status.ValidateHost(h); err != nil {
			errs = append(errs, fmt.Errorf("hosts[%d]: %w", i, err))
			continue
		}
		if seen[h] {
			errs = append(errs, fmt.Errorf("hosts[%d]: %q is listed twice", i, h))
		}
		seen[h] = true
	}
	if len(c.Title) > 200 {
		errs = append(errs, errors.New("title: longer than 200 characters"))
	}
	return errors.Join(errs...)
}
