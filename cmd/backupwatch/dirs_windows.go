//go:build windows

package main

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// defaultStoreDir is %ProgramData%\backupwatch\records for an elevated
// process (an administrator, SYSTEM: what Task Scheduler runs backups as),
// %LOCALAPPDATA%\backupwatch\records for other users.
func defaultStoreDir() string { return dataDir("records") }

// defaultSpoolDir mirrors defaultStoreDir.
func defaultSpoolDir() string { return dataDir("spool") }

// defaultStateDir is serve's state, beside the store.
func defaultStateDir() string { return dataDir("state") }

func dataDir(sub string) string {
	env := "LOCALAPPDATA"
	if windows.GetCurrentProcessToken().IsElevated() {
		env = "ProgramData"
	}
	if d := os.Getenv(env); d != "" {
		return filepath.Join(d, "backupwatch", sub)
	}
	return "backupwatch-" + sub
}
