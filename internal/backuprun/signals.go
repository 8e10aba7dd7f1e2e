package backuprun

import (
	"os"
	"os/signal"
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

// IgnoreBrokenPipe makes a write to a closed stdout or stderr (`backupwatch
// run -- ... | head -1`) fail with EPIPE rather than kill backupwatch before
// it records the outcome: the pass-through is lost, never the result. The
// child's own SIGPIPE is left as it was (caught signals are reset by exec).
// stop undoes it.
func IgnoreBrokenPipe() (stop func()) {
	ch := make(chan os.Signal, 1) // never read: a full channel drops the signal
	signal.Notify(ch, syscall.SIGPIPE)
	return func() { signal.Stop(ch) }
}
