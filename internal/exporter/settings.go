package exporter

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// Settings are what an operator sets of serve (by its flags): how often
// and how widely it reads the store, and how much it answers at once.
type Settings struct {
	Interval                    time.Duration // of the full refresh
	NudgeRate                   float64       // records read again per second for nudges
	Concurrency                 int           // records read at once during a refresh
	ExternalURL                 string        // the status page's, for alert texts
	MaxRequests, MaxPageRenders int           // see newLimiters
	MaxWait                     time.Duration
}

// Validate reports every setting out of its range at once, each named by
// serve's flag, before anything starts.
func (s Settings) Validate() error {
	var errs []error
	if s.Interval < time.Second {
		errs = append(errs, fmt.Errorf("--refresh.interval must be at least 1s, not %v", s.Interval))
	}
	if !(s.NudgeRate > 0 && s.NudgeRate <= 10000) {
		errs = append(errs, fmt.Errorf("--refresh.nudge-rate must be above 0 and at most 10000, not %v", s.NudgeRate))
	}
	if err := ValidateConcurrency(s.Concurrency); err != nil {
		errs = append(errs, err)
	}
	if err := ValidateExternalURL(s.ExternalURL); err != nil {
		errs = append(errs, fmt.Errorf("--web.external-url: %w", err))
	}
	if s.MaxRequests < 1 || s.MaxRequests > 1024 {
		errs = append(errs, fmt.Errorf("--web.max-requests must be between 1 and 1024, not %d", s.MaxRequests))
	}
	if s.MaxPageRenders < 1 || s.MaxPageRenders > 1024 {
		errs = append(errs, fmt.Errorf("--web.max-page-renders must be between 1 and 1024, not %d", s.MaxPageRenders))
	}
	if s.MaxWait <= 0 || s.MaxWait > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--web.max-wait must be above 0s and at most 10m, not %v", s.MaxWait))
	}
	return errors.Join(errs...)
}

// ValidateConcurrency checks --refresh.concurrency, serve's and
// textfile's: the records read at once are as many connections kept to
// Vault.
func ValidateConcurrency(n int) error {
	if n < 1 || n > 256 {
		return fmt.Errorf("--refresh.concurrency must be between 1 and 256, not %d", n)
	}
	return nil
}

// SnapshotFile is where serve saves its snapshot in the state directory
// dir, "" for nowhere: the directory is made if need be, and one that
// cannot be is said and done without, as reading the store matters more
// than a quick restart.
func SnapshotFile(dir string, logger *slog.Logger) string {
	if dir == "" {
		return ""
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		logger.Warn("no snapshot kept across restarts: cannot make --state.dir", "err", err)
		return ""
	}
	return filepath.Join(dir, "snapshot.json.gz")
}
