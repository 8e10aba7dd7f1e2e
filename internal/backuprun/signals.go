package backuprun

import (
	"os"
	"os/signal"
	"syscall"
)

// IgnoreBrokenPipe makes a write to a closed stdout or stderr (`backupwatch
// run -- ... | head -1`) fail with EPIPE rather than kill backupwatch before
// it records the outcome: the pass-through is lost, never the result. It
// holds for the rest of the process, so that the exit status, decided after
// the run, is not lost either when the last message meets the closed pipe.
// The child's own SIGPIPE is left as it was (caught signals are reset by
// exec). On Windows, which has no SIGPIPE, it does nothing.
func IgnoreBrokenPipe() {
	signal.Notify(brokenPipe, syscall.SIGPIPE)
}

// brokenPipe is never read: a full channel drops the signal.
var brokenPipe = make(chan os.Signal, 1)
