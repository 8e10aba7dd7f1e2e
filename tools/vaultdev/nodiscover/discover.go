// Package discover stands in for github.com/hashicorp/go-discover in
// vaultdev (tools/vaultdev/go.mod replaces it): Raft's cloud auto-join
// (retry_join's auto_join), which finds peers through the APIs of AWS,
// Azure, GCE, Kubernetes, vSphere and a dozen more. The tests join by
// address and never use it, and its providers were 467 of Vault's 1,650
// packages, Kubernetes' client among them. It has only what Vault v1.21.4
// calls, and every discovery, and every auto_join setting, is refused.
package discover

import (
	"errors"
	"fmt"
	"log"
	"maps"
	"slices"
	"strings"
)

// errNotBuiltIn is what every discovery returns.
var errNotBuiltIn = errors.New("vaultdev: cloud auto-join (go-discover) is not built in: join by address")

// Provider has the method set of go-discover's.
type Provider interface {
	Addrs(args map[string]string, l *log.Logger) ([]string, error)
	Help() string
}

// Providers is empty: no provider is built in.
var Providers = map[string]Provider{}

// Discover refuses every discovery.
type Discover struct{}

// Option configures a Discover.
type Option func(*Discover) error

// New returns a Discover.
func New(opts ...Option) (*Discover, error) { return &Discover{}, nil }

// WithProviders is accepted and ignored: no provider runs.
func WithProviders(map[string]Provider) Option { return func(*Discover) error { return nil } }

// Addrs refuses: auto-join is not built in.
func (d *Discover) Addrs(cfg string, l *log.Logger) ([]string, error) {
	return nil, fmt.Errorf("auto_join %q: %w", cfg, errNotBuiltIn)
}

// Config is an auto_join configuration, key=value pairs.
type Config map[string]string

// Parse refuses: a configuration asking for auto-join is an error at once
// rather than a join that never happens.
func Parse(s string) (Config, error) {
	return nil, fmt.Errorf("auto_join %q: %w", s, errNotBuiltIn)
}

// String writes c as key=value pairs, sorted by key.
func (c Config) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, k+"="+c[k])
	}
	return strings.Join(parts, " ")
}
