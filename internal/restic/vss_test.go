package restic

import (
	"os"
	"strings"
	"testing"
)

// readLines reads testdata/name's lines, without its # comments.
func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestVSSFailure(t *testing.T) {
	for _, l := range readLines(t, "vss-windows.txt") {
		line, want, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("testdata line without a tab: %q", l)
		}
		got, ok := VSSFailure(line)
		if !ok || !strings.HasPrefix(got, want) {
			t.Errorf("VSSFailure(%q) =\n  %q, %v\nwant\n  %q...", line, got, ok, want)
		}
		if strings.ContainsAny(got, "\n\r") {
			t.Errorf("VSSFailure(%q) spans lines: %q", line, got)
		}
	}
	for _, line := range readLines(t, "vss-not.txt") {
		if got, ok := VSSFailure(line); ok {
			t.Errorf("VSSFailure(%q) = %q, want no VSS failure", line, got)
		}
	}
}
