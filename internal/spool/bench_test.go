package spool

import (
	"context"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// BenchmarkAdd is one spooled result: encode, write, fsync, rename, fsync.
func BenchmarkAdd(b *testing.B) {
	sp, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	e := result("db", status.Failed, t0)
	for b.Loop() {
		if _, err := sp.Add(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlush1000 reads, delivers (to nothing) and removes 1000 entries.
func BenchmarkFlush1000(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		sp, _ := Open(b.TempDir())
		for i := range 1000 {
			sp.Add(result("db", status.Success, t0.Add(time.Duration(i)*time.Second)))
		}
		b.StartTimer()
		fr := sp.Flush(context.Background(), FlushOptions{Retry: Retry{Attempts: 1}, Deliver: func(context.Context, Entry) error { return nil }})
		if len(fr.Delivered) != 1000 {
			b.Fatalf("delivered %d", len(fr.Delivered))
		}
	}
}
