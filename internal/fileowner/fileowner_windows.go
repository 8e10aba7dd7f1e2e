//go:build windows

package fileowner

import "io/fs"

func openToOthers(fs.FileInfo) bool { return false }

func ownedByOther(fs.FileInfo) (int, bool) { return -1, false }
