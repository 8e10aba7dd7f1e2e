//go:build linux

package backuprun

import "syscall"

// dieWithParent makes the kernel kill the child when backupwatch dies
// however it dies (SIGKILL, the OOM killer, a crash): a backup left running
// on its own would end with nobody to record its outcome. SIGKILL, because
// a program that catches SIGTERM could go on; restic clears a lock left by
// a dead process of its host as stale. Run keeps the starting thread locked
// until the child ends, since the signal follows the thread, not the process.
func dieWithParent(a *syscall.SysProcAttr) *syscall.SysProcAttr {
	c := syscall.SysProcAttr{}
	if a != nil {
		c = *a
	}
	if c.Pdeathsig == 0 {
		c.Pdeathsig = syscall.SIGKILL
	}
	return &c
}
