//go:build unix

package backuprun

import (
	"os"
	"syscall"
)

// Signals are the catchable signals whose default action ends a process:
// the caller catches them all (signal.Notify) and forwards them to the
// child, so that however backupwatch is told to stop (^C, kill, a closed
// ssh session's SIGHUP, ^\), the child stops and its outcome is recorded.
// SIGPIPE is not among them: see IgnoreBrokenPipe.
var Signals = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM,
	syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGVTALRM,
}

// unixSignalNames are SignalName's names of the signals Windows lacks.
var unixSignalNames = map[syscall.Signal]string{
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGVTALRM: "SIGVTALRM",
}
