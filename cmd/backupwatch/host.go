package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// resolveHost returns the host a command is about: h, or this machine's
// short host name when the flag was not given at all, validated either way.
// A --host given empty is refused: it is a script's unset variable, and
// recording it as this machine would report the wrong host.
func resolveHost(h string, given bool) (string, error) {
	if h == "" && given {
		return "", usageError{errors.New("--host is empty (an unset variable?): name the host, or leave --host out for this machine's name")}
	}
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

// checkHostTested validates --host-tested of the restore test commands. Given
// empty it is refused like --host (restore-test run would otherwise quietly
// record the snapshot's host); absent, restore-test run takes the snapshot's.
func checkHostTested(h string, given bool) error {
	if h == "" && !given {
		return nil
	}
	if err := status.ValidateHost(h); err != nil {
		return usageError{fmt.Errorf("--host-tested: %w", err)}
	}
	return nil
}
