package backuprun

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

// maxMessage bounds the message recorded for a run; the store bounds it
// again.
const maxMessage = 900

// Outcome turns how the program ended into the result to record: exit 0
// is a success, restic's exit 3 is as exit3 says, anything else a failure
// saying what happened with the last error lines.
func Outcome(host string, r Result, startErr error, sum *restic.Summary, exit3 string) status.Result {
	res := status.Result{Host: host, Outcome: status.Failed, At: r.Ended}
	code := int64(r.ExitCode)
	res.ExitCode = &code
	secs := r.Duration().Seconds()
	if sum != nil && sum.TotalDuration > 0 {
		secs = sum.TotalDuration
	}
	res.Duration = &secs
	if sum != nil {
		res.Extra = sum.Fields()
	}
	var what string
	switch {
	case startErr != nil:
		what = startErr.Error()
	case r.ExitCode == 0:
		res.Outcome = status.Success
		return res
	case r.Forwarded != nil:
		what = fmt.Sprintf("interrupted by %s (exit status %d)", SignalName(r.Forwarded), r.ExitCode)
	case r.Signal != 0:
		what = "killed by " + SignalName(r.Signal)
	case r.ExitCode == restic.ExitIncomplete && exit3 == status.Success:
		res.Outcome = status.Success
		what = "warning: exit status 3: snapshot made, but some files could not be read"
	case r.ExitCode == restic.ExitIncomplete:
		what = "incomplete backup: exit status 3: snapshot made, but some files could not be read"
	default:
		what = "exit status " + strconv.Itoa(r.ExitCode)
	}
	res.Message = boundMessage(what, r.Tail)
	return res
}

// boundMessage is what happened, then as many of the last error lines as
// fit, the latest kept first when something must go.
func boundMessage(what string, tail []string) string {
	what = status.Truncate(what, maxMessage/2)
	var lines []string
	room := maxMessage - len(what)
	for i := len(tail) - 1; i >= 0; i-- {
		l := restic.HumanError(tail[i])
		if len(l)+1 > room {
			if room > 40 {
				lines = append(lines, status.Truncate(l, room-4))
			}
			break
		}
		lines = append(lines, l)
		room -= len(l) + 1
	}
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	if len(lines) == 0 {
		return what
	}
	return what + "\n" + strings.Join(lines, "\n")
}

// SignalName names a signal as operators write it: SIGTERM, not "terminated".
func SignalName(s os.Signal) string {
	sig, ok := s.(syscall.Signal)
	if !ok {
		return s.String()
	}
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
		syscall.SIGABRT: "SIGABRT", syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV",
		syscall.SIGPIPE: "SIGPIPE", syscall.SIGTERM: "SIGTERM", syscall.SIGBUS: "SIGBUS",
		syscall.SIGALRM: "SIGALRM",
	}
	if n, ok := names[sig]; ok {
		return n
	}
	if n, ok := unixSignalNames[sig]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}
