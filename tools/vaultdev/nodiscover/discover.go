// Package discover stands in for github.com/hashicorp/go-discover in
// vaultdev (tools/vaultdev/go.mod replaces it): Raft's cloud auto-join
// (retry_join's auto_join), which finds peers through the APIs of AWS,
// Azure, GCE, Kubernetes, vSphere and a dozen more. The tests join by
// address and never use it, and its providers were 469 of Vault's 1,650
// packages, Kubernetes' client among them: a third of the first build.
// Every call says auto-join is not built in; the API is the one Vault
// calls.
package discover

import (
	"errors"
	"fmt"
	"log"
	"sort"
	"strings"
)

// errNotBuiltIn is what every discovery returns.
var errNotBuiltIn = errors.New("vaultdev: cloud auto-join (go-discover) is not built in: join by address")

// Provider has the method set of go-discover's.
type Provider interface {
	Addrs(args map[string]string, l *log.Logger) ([]string, error)
	Help() string
}

// ProviderWithUserAgent has the method set of go-discover's.
type ProviderWithUserAgent interface {
	SetUserAgent(s string)
}

// Providers is empty: no provider is built in.
var Providers = map[string]Provider{}

// Discover has no providers unless given some.
type Discover struct {
	providers map[string]Provider
	userAgent string
}

// Option configures a Discover.
type Option func(*Discover) error

// New returns a Discover.
func New(opts ...Option) (*Discover, error) {
	d := &Discover{providers: map[string]Provider{}}
	for _, o := range opts {
		if err := o(d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// WithUserAgent sets the user agent.
func WithUserAgent(agent string) Option {
	return func(d *Discover) error { d.userAgent = agent; return nil }
}

// WithProviders sets the providers.
func WithProviders(m map[string]Provider) Option {
	return func(d *Discover) error { d.providers = m; return nil }
}

// Names are the providers' names, sorted.
func (d *Discover) Names() []string {
	var names []string
	for n := range d.providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Help says that auto-join is not built in.
func (d *Discover) Help() string { return errNotBuiltIn.Error() }

// Addrs refuses: auto-join is not built in.
func (d *Discover) Addrs(cfg string, l *log.Logger) ([]string, error) {
	return nil, fmt.Errorf("auto_join %q: %w", cfg, errNotBuiltIn)
}

// Config is an auto_join configuration, key=value pairs.
type Config map[string]string

// Parse reads "key=value key=value" (values quoted with "" when they hold
// spaces), enough for Vault's configuration to check and normalize a
// retry_join stanza's auto_join.
func Parse(s string) (Config, error) {
	c := Config{}
	for _, f := range fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("auto_join %q: %q is not key=value", s, f)
		}
		c[k] = strings.Trim(v, `"`)
	}
	return c, nil
}

// fields splits s at spaces outside double quotes.
func fields(s string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			b.WriteRune(r)
		case r == ' ' && !quoted:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// String writes c back as key=value pairs, sorted by key.
func (c Config) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		v := c[k]
		if strings.ContainsAny(v, ` "`) {
			v = fmt.Sprintf("%q", v)
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}
