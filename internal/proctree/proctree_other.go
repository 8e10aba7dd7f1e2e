//go:build !windows

package proctree

import "os"

// treeSys is nothing: the child's signals end it (see the package comment).
type treeSys struct{}

func hold(*os.Process) (treeSys, error) { return treeSys{}, nil }

func (treeSys) kill() error  { return nil }
func (treeSys) close() error { return nil }
