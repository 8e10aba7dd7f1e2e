// Package proctree holds a child process and every process it starts, so
// that they end together: on Windows in a job object that the system
// kills whole when backupwatch ends however it ends (TerminateProcess from
// Task Scheduler's End included) or when Kill is called. Elsewhere the
// child's own signals do it (a parent-death signal on Linux, signals
// forwarded everywhere: see internal/backuprun) and a Tree does nothing.
package proctree

import "os"

// Tree is a child's process tree; the nil *Tree is a valid empty one.
type Tree struct {
	sys treeSys
}

// Hold puts p, just started, into a new tree. On Windows a process p
// starts before Hold returns is outside it (exec starts p running); the
// caller holds p at once after Start, before p has done anything.
func Hold(p *os.Process) (*Tree, error) {
	s, err := hold(p)
	if err != nil {
		return nil, err
	}
	return &Tree{sys: s}, nil
}

// Kill ends every process of the tree at once, without letting them
// clean up; on systems without trees it does nothing.
func (t *Tree) Kill() error {
	if t == nil {
		return nil
	}
	return t.sys.kill()
}

// Close lets the tree go: on Windows, whatever of it still runs is killed
// (the child ended and left processes behind, nobody would watch them).
func (t *Tree) Close() error {
	if t == nil {
		return nil
	}
	return t.sys.close()
}
