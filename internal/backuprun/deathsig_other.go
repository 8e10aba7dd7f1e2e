//go:build !linux

package backuprun

import "syscall"

// dieWithParent leaves the child as it is: only Linux has a parent-death
// signal. The catchable signals are still forwarded (Signals). On Windows
// the job object Run holds the child's tree in (internal/proctree) does
// it: the system kills the job when backupwatch ends, TerminateProcess
// included. On macOS and the BSDs a backupwatch killed by SIGKILL leaves
// restic running, which then ends on its own with nobody to record its
// outcome (the next run's record, or its absence, shows it).
func dieWithParent(a *syscall.SysProcAttr) *syscall.SysProcAttr { return a }
