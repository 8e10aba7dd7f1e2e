//go:build windows

package proctree

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// treeSys is a job object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: its
// one handle is backupwatch's, which the system closes when backupwatch
// ends, killing the job's processes. A process in the job starts its
// children in it too (no breakaway is allowed).
type treeSys struct {
	job windows.Handle
}

func hold(p *os.Process) (treeSys, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return treeSys{}, fmt.Errorf("create job object: %w", err)
	}
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return treeSys{}, fmt.Errorf("set the job object to kill on close: %w", err)
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		windows.CloseHandle(job)
		return treeSys{}, fmt.Errorf("open process %d: %w", p.Pid, err)
	}
	defer windows.CloseHandle(h)
	// Since Windows 8 a process may be in nested jobs: one already in a
	// job (Task Scheduler runs its tasks in one) is accepted too.
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		windows.CloseHandle(job)
		return treeSys{}, fmt.Errorf("put process %d in a job object: %w", p.Pid, err)
	}
	return treeSys{job: job}, nil
}

func (s treeSys) kill() error {
	if err := windows.TerminateJobObject(s.job, 1); err != nil {
		return fmt.Errorf("terminate the job object: %w", err)
	}
	return nil
}

func (s treeSys) close() error {
	return windows.CloseHandle(s.job)
}
