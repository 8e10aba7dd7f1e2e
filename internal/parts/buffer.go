package parts

import (
	"bytes"
	"sync"
)

// LockedBuffer collects a process's output, written by the copier of
// exec.Cmd and read by the test (for a condition, or the failure report)
// while the process runs. Its zero value is ready.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
