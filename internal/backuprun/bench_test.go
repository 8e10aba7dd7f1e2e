package backuprun

import (
	"io"
	"os"
	"strings"
	"testing"
)

// BenchmarkRunOutput measures pass-through, logging and scrubbing of a
// chatty child: 64 MiB of 100-byte lines.
func BenchmarkRunOutput(b *testing.B) {
	env := append(os.Environ(), "RESTIC_PASSWORD=bench-password-value", "AWS_SECRET_ACCESS_KEY=bench-aws-secret-value")
	s := NewScrubber(env, nil)
	line := strings.Repeat("x", 99)
	b.SetBytes(64 << 20)
	for b.Loop() {
		res, err := Run(Options{
			Args:   []string{"sh", "-c", "yes " + line + " | head -c 67108864"},
			Stdout: io.Discard, Stderr: io.Discard, Log: io.Discard, Scrub: s.Scrub,
		})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("run: %d %v", res.ExitCode, err)
		}
	}
}

func BenchmarkScrub(b *testing.B) {
	env := append(os.Environ(), "RESTIC_PASSWORD=bench-password-value", "AWS_SECRET_ACCESS_KEY=bench-aws-secret-value", "B2_ACCOUNT_KEY=b2-bench-key")
	s := NewScrubber(env, nil)
	line := `{"message_type":"status","seconds_elapsed":93,"percent_done":0.5,"total_files":1000,"files_done":500,"total_bytes":2000000,"bytes_done":1000000}`
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		s.Scrub(line)
	}
}
