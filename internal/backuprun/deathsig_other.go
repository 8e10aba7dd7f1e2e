//go:build !linux

package backuprun

import "syscall"

// dieWithParent leaves the child as it is: only Linux has a parent-death
// signal. The catchable signals are still forwarded (Signals). On Windows
// a job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE would do it; it is
// not used yet, so a backupwatch ended by TerminateProcess leaves restic
// running, which then ends on its own with nobody to record its outcome
// (the next run's record, or its absence, shows it).
func dieWithParent(a *syscall.SysProcAttr) *syscall.SysProcAttr { return a }
