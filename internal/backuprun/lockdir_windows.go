//go:build windows

package backuprun

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// lockDir is base\backupwatch when base is given, else
// %ProgramData%\backupwatch\lock for an elevated process (SYSTEM's own
// %TEMP%, C:\Windows\Temp, lets every user create files) and the user's
// own %TEMP%\backupwatch otherwise. A lock left by a crashed run holds
// nothing: the system drops a LockFileEx lock with its process.
func lockDir(base string) string {
	if base != "" {
		return filepath.Join(base, "backupwatch")
	}
	if d := os.Getenv("ProgramData"); d != "" && windows.GetCurrentProcessToken().IsElevated() {
		os.MkdirAll(filepath.Join(d, "backupwatch"), 0o755) // OwnDir makes only the last
		return filepath.Join(d, "backupwatch", "lock")
	}
	return filepath.Join(os.TempDir(), "backupwatch")
}
