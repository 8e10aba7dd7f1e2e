//go:build windows

package spool

import (
	"os"

	"golang.org/x/sys/windows"
)

// openNoFollow opens name for reading, never through a symlink or junction
// (the error is then errSymlink): Windows has no O_NOFOLLOW, so the link
// itself is opened (FILE_FLAG_OPEN_REPARSE_POINT) and refused. A FIFO
// cannot be planted in a Windows directory, so nothing can block the open.
func openNoFollow(name string) (*os.File, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	h, err := windows.CreateFile(p, windows.GENERIC_READ,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING,
		windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OPEN_REPARSE_POINT|windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		windows.CloseHandle(h)
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	// The handle's attributes are what Windows says, free of races; the
	// Lstat is for wine, which keeps links as Unix symlinks, follows them
	// and shows no reparse point.
	if fi, err := os.Lstat(name); info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 || err == nil && fi.Mode()&os.ModeSymlink != 0 {
		windows.CloseHandle(h)
		return nil, errSymlink
	}
	return os.NewFile(uintptr(h), name), nil
}
