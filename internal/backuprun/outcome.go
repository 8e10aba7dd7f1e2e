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
// saying what happened with the last error lines. vss are the Volume
// Shadow Copy failures restic reported (VSSFailures): they are named in
// the reason whatever the exit status, a success's as a warning, since a
// backup read without its snapshot may hold inconsistent files.
func Outcome(host string, r Result, startErr error, sum *restic.Summary, exit3 string, vss []string) status.Result {
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
	case r.ExitCode == 0 && len(vss) == 0:
		res.Outcome = status.Success
		return res
	case r.ExitCode == 0:
		res.Outcome = status.Success
		res.Message = status.Truncate("warning: "+strings.Join(vss, "; "), maxMessage)
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
		what = "exit status " + exitStatus(r.ExitCode)
	}
	if len(vss) > 0 {
		sep := "; "
		if !strings.Contains(what, ":") {
			sep = ": "
		}
		what += sep + strings.Join(vss, "; ")
	}
	res.Message = boundMessage(what, withoutVSS(r.Tail))
	return res
}

// exitStatus writes a Windows NTSTATUS (a process ended by an unhandled
// exception or console event, 0xC0000000 and up) in hex with its name, as
// Windows' tools do; any other status in decimal.
func exitStatus(code int) string {
	if c := int64(code); c < 0xC0000000 || c > 0xFFFFFFFF {
		return strconv.Itoa(code)
	}
	s := fmt.Sprintf("0x%08X", code)
	if name, ok := ntStatus[uint32(code)]; ok {
		s += " (" + name + ")"
	}
	return s
}

// ntStatus names the NTSTATUS exit codes a backup program meets.
var ntStatus = map[uint32]string{
	0xC000013A: "STATUS_CONTROL_C_EXIT: ended by Ctrl+C or the console closing",
	0xC0000005: "STATUS_ACCESS_VIOLATION: restic crashed",
	0xC0000409: "STATUS_STACK_BUFFER_OVERRUN: restic crashed",
	0xC00000FD: "STATUS_STACK_OVERFLOW: restic crashed",
	0xC0000017: "STATUS_NO_MEMORY: out of memory",
	0xC0000142: "STATUS_DLL_INIT_FAILED: could not start (a desktop heap or DLL problem)",
}

// withoutVSS is the tail without the VSS failures the reason names.
func withoutVSS(tail []string) []string {
	var keep []string
	for _, l := range tail {
		if _, ok := restic.VSSFailure(l); !ok {
			keep = append(keep, l)
		}
	}
	return keep
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
