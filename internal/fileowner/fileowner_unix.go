//go:build unix

package fileowner

import (
	"io/fs"
	"os"
	"syscall"
)

func openToOthers(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o022 != 0 }

func ownedByOther(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, true // not from a stat: nothing says it is ours
	}
	return int(st.Uid), int(st.Uid) != os.Geteuid()
}
