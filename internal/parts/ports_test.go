package parts

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeAddr: each address is handed out once, below the ephemeral
// range, and can be bound.
func TestFreeAddr(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		a := FreeAddr(t)
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := strconv.Atoi(port); p < portsLow || p >= portsHigh {
			t.Fatalf("%s outside %d-%d", a, portsLow, portsHigh-1)
		}
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("bind %s: %v", a, err)
		}
		l.Close()
	}
}
