package ping

import "sync"

// Tail keeps the last bytes written to it, at most its limit (MaxBody when
// zero): the end of a run's output, for the end ping. It is safe for
// concurrent use and never fails a write.
type Tail struct {
	Limit int

	mu  sync.Mutex
	buf []byte
}

func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	limit := t.limit()
	t.buf = append(t.buf, p...)
	// Trimmed at twice the limit, so that a long run copies its output
	// rarely, not on every line.
	if len(t.buf) > 2*limit {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-limit:]...)
	}
	return len(p), nil
}

// String is the last Limit bytes written.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := t.limit(); len(t.buf) > n {
		return string(t.buf[len(t.buf)-n:])
	}
	return string(t.buf)
}

func (t *Tail) limit() int {
	if t.Limit > 0 {
		return t.Limit
	}
	return MaxBody
}
