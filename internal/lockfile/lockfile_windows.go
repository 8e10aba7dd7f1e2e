//go:build windows

package lockfile

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// openNoFollow opens path without following a symlink or junction
// (FILE_FLAG_OPEN_REPARSE_POINT opens the link itself, which is then
// refused): Windows has no O_NOFOLLOW. FILE_SHARE_DELETE lets another
// process rename or remove the file while it is open, as on Unix. perm
// has no meaning here beyond read-only: the directory's ACL decides who
// may open the file.
func openNoFollow(path string, _ os.FileMode) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	h, err := windows.CreateFile(p,
		windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_ALWAYS,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The handle's attributes are what Windows says, free of races; the
	// Lstat is for wine, which keeps links as Unix symlinks, follows them
	// and shows no reparse point.
	if fi, err := os.Lstat(path); info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 || err == nil && fi.Mode()&os.ModeSymlink != 0 {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("lock %s: is a symlink, refusing to follow it", path)
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("lock %s: not a regular file", path)
	}
	return os.NewFile(uintptr(h), path), nil
}

// lockOffsetHigh places the locked byte far beyond any content: a Windows
// lock is mandatory, and a lock on the first bytes would stop another
// process reading the holder's pid from the file (internal/backuprun).
const lockOffsetHigh = 0x7fffffff

// lock takes LockFileEx on one byte of f; held reports that another holder
// has it (only when not waiting). The system releases it when the handle
// closes or the process ends.
func lock(f *os.File, wait bool) (held bool, err error) {
	flags := uint32(windows.LOCKFILE_EXCLUSIVE_LOCK)
	if !wait {
		flags |= windows.LOCKFILE_FAIL_IMMEDIATELY
	}
	ol := windows.Overlapped{OffsetHigh: lockOffsetHigh}
	err = windows.LockFileEx(windows.Handle(f.Fd()), flags, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return true, nil
	}
	return false, err
}
