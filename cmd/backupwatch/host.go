package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

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

// parseDuration reads a duration flag: Go's form (47m, 1h2m) or seconds.
func parseDuration(flag, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, usageError{fmt.Errorf("%s: not a duration: %q (use e.g. 47m or 1h30m)", flag, status.Truncate(s, 40))}
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return 0, usageError{fmt.Errorf("%s must not be negative", flag)}
	}
	return d, nil
}
