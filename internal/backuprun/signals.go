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
// it records the outcome: the pass-through is lost, never the result. It
// holds for the rest of the process, so that the exit status, decided after
// the run, is not lost either when the last message meets the closed pipe.
// The child's own SIGPIPE is left as it was (caught signals are reset by
// exec).
func IgnoreBrokenPipe() {
	signal.Notify(brokenPipe, syscall.SIGPIPE)
}

// brokenPipe is never read: a full channel drops the signal.
var brokenPipe = make(chan os.Signal, 1)
