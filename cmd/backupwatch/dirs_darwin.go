//go:build darwin

package main

import (
	"os"
	"path/filepath"
)

// defaultStoreDir follows macOS's places: /Library/Application Support for
// root (launchd daemons run as root), ~/Library/Application Support for
// other users.
func defaultStoreDir() string { return appSupportDir("records") }

// defaultSpoolDir mirrors defaultStoreDir.
func defaultSpoolDir() string { return appSupportDir("spool") }

// defaultStateDir is serve's state, beside the store.
func defaultStateDir() string { return appSupportDir("state") }

func appSupportDir(sub string) string {
	if os.Geteuid() == 0 {
		return filepath.Join("/Library/Application Support/backupwatch", sub)
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, "Library", "Application Support", "backupwatch", sub)
	}
	return "backupwatch-" + sub
}
