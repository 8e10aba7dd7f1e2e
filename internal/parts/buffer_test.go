package parts

import (
	"strings"
	"sync"
	"testing"
)

// TestLockedBuffer: writes from several goroutines, read while they
// write (go test -race sees no race), all arrive.
func TestLockedBuffer(t *testing.T) {
	var b LockedBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("x\n"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "x\n"); got != 400 {
		t.Errorf("%d lines, want 400", got)
	}
}
