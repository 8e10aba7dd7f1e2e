// Package fileowner says whether a file or directory is this user's own
// and private, as far as each platform can tell from its metadata.
package fileowner

import "io/fs"

// OpenToOthers reports whether fi's mode lets group or others write to it.
// On Windows it is always false: the mode bits there say nothing of who may
// write (the ACL does, inherited from the parent directory; docs/platforms.md
// says to make backupwatch's directories under %ProgramData% writable by
// Administrators and SYSTEM only).
func OpenToOthers(fi fs.FileInfo) bool { return openToOthers(fi) }

// Other reports whether fi belongs to another user than this process's
// effective user, and that user's uid. On Windows it is always false, for
// the reason OpenToOthers gives.
func Other(fi fs.FileInfo) (uid int, other bool) { return ownedByOther(fi) }
