//go:build windows

package backuprun

import (
	"os"
	"syscall"
)

// Signals are what Go makes of the console's events on Windows: Ctrl+C and
// Ctrl+Break arrive as os.Interrupt; closing the console, logging off and
// shutting down as SIGTERM. Catching them keeps backupwatch alive to record
// the outcome. They cannot be forwarded (os.Process.Signal only kills on
// Windows, and the error is ignored): the child shares the console and
// receives the same event itself. Task Scheduler's "End" and Stop-Process
// end backupwatch with TerminateProcess, which nothing can catch: the
// child runs on, and the next run records (see docs/platforms.md).
var Signals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// unixSignalNames is empty: Windows has none of those signals.
var unixSignalNames = map[syscall.Signal]string{}
