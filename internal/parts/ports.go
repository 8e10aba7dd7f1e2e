package parts

import (
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
)

// FreeAddr is a loopback address ("127.0.0.1:port") for a service a test
// starts. Its ports lie below Linux's ephemeral range (32768-60999 by
// default), and each is handed out once per test process. A port the
// kernel picked for "127.0.0.1:0" is free only until some other socket
// takes it: with a dozen stacks running at once, the outgoing connections
// of one (which take their local ports from the ephemeral range) or
// another test's pick took an Alertmanager's port between the pick and
// its bind, and its Prometheus sent alerts to whatever listened there.
// Where a process starts in the range depends on its pid, so that the
// test binaries `go test` runs side by side (e2e, deploy, vaulttest...)
// rarely meet; a port found taken is skipped.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ports.mu.Lock()
	defer ports.mu.Unlock()
	if ports.next == 0 {
		ports.next = portsLow + (os.Getpid()*97)%(portsHigh-portsLow)
	}
	for range portsHigh - portsLow {
		p := ports.next
		ports.next++
		if ports.next >= portsHigh {
			ports.next = portsLow
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		return l.Addr().String()
	}
	t.Fatalf("no free port in 127.0.0.1:%d-%d", portsLow, portsHigh-1)
	return ""
}

const portsLow, portsHigh = 20000, 32768

var ports struct {
	mu   sync.Mutex
	next int
}
