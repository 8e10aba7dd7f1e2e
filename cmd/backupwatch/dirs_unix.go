//go:build unix && !darwin

package main

import (
	"os"
	"path/filepath"
)

// defaultStoreDir follows the usual places: /var/lib for root, the XDG
// state directory otherwise.
func defaultStoreDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/backupwatch/records"
	}
	return userStateDir("records")
}

// defaultSpoolDir mirrors defaultStoreDir: /var/spool for root, the XDG
// state directory otherwise.
func defaultSpoolDir() string {
	if os.Geteuid() == 0 {
		return "/var/spool/backupwatch"
	}
	return userStateDir("spool")
}

// defaultStateDir is serve's state: /var/lib for root, as the store.
func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/backupwatch/state"
	}
	return userStateDir("state")
}

// userStateDir is $XDG_STATE_HOME/backupwatch/sub, else under
// ~/.local/state, else relative to the working directory.
func userStateDir(sub string) string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "backupwatch", sub)
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "backupwatch", sub)
	}
	return "backupwatch-" + sub
}
