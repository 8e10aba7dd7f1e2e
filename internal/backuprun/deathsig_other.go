//go:build !linux

package backuprun

import "syscall"

// dieWithParent leaves the child as it is: only Linux has a parent-death
// signal. The catchable signals are still forwarded (Signals).
func dieWithParent(a *syscall.SysProcAttr) *syscall.SysProcAttr { return a }
