// Package k8s stands in for go-discover's Kubernetes provider (see the
// module's discover.go): not built in.
package k8s

import (
	"errors"
	"log"
)

// Provider is the Kubernetes provider's type, without Kubernetes.
type Provider struct{}

// Addrs refuses: not built in.
func (p *Provider) Addrs(args map[string]string, l *log.Logger) ([]string, error) {
	return nil, errors.New("vaultdev: the Kubernetes auto-join provider is not built in")
}

// Help says so.
func (p *Provider) Help() string { return "not built into vaultdev" }
