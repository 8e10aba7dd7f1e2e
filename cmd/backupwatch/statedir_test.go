package main

import (
	"os"
	"testing"
)

// TestMain keeps the snapshots of the serves the tests start out of the
// machine's state directory (/var/lib/backupwatch/state as root): each
// run gets its own, unless the environment names one.
func TestMain(m *testing.M) {
	if os.Getenv("BACKUPWATCH_STATE_DIR") == "" {
		dir, err := os.MkdirTemp("", "backupwatch-state-")
		if err != nil {
			panic(err)
		}
		os.Setenv("BACKUPWATCH_STATE_DIR", dir)
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}
