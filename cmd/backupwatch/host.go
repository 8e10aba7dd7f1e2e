package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
)

// resolveHost returns the host a command is about: the given one, or this
// machine's short host name, validated either way.
func resolveHost(h string) (string, error) {
	if h == "" {
		name, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("find this machine's host name (pass --host): %w", err)
		}
		h, _, _ = strings.Cut(name, ".")
	}
	if err := status.ValidateHost(h); err != nil {
		return "", usageError{err}
	}
	return h, nil
}
