//go:build unix

package repocheck

import "golang.org/x/sys/unix"

// freeBytes is the space under dir free to an unprivileged writer.
func freeBytes(dir string) (int64, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return 0, err
	}
	return int64(uint64(fs.Bavail) * uint64(fs.Bsize)), nil
}
