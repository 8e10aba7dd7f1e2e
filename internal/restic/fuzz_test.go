package restic

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// seedLines are the lines of restic's output samples in testdata.
func seedLines(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no restic samples in testdata: %v", err)
	}
	var lines [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, bytes.Clone(sc.Bytes()))
		}
	}
	return lines
}

// FuzzParseSummary: any line of restic backup's output is read without
// panic, and a summary read from it holds only what a record may: a hex
// snapshot id, a finite duration, counts that are whole and not negative.
func FuzzParseSummary(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		s, ok := ParseSummary(line)
		if !ok {
			return
		}
		if len(s.SnapshotID) > 64 || !isHex(s.SnapshotID) {
			t.Errorf("snapshot id %q kept", s.SnapshotID)
		}
		if math.IsNaN(s.TotalDuration) || math.IsInf(s.TotalDuration, 0) || s.TotalDuration < 0 {
			t.Errorf("duration %v kept", s.TotalDuration)
		}
		for k, v := range s.Fields() {
			if k == "snapshot_id" {
				continue
			}
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
				t.Errorf("field %s = %q, not a count", k, v)
			}
		}
	})
}

// FuzzHumanError: any line restic prints is turned into a message without
// panic; a --json error line becomes one line of bounded length.
func FuzzHumanError(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(string(l))
	}
	f.Fuzz(func(t *testing.T, line string) {
		if r, ok := VSSFailure(line); ok && strings.ContainsAny(r, "\n\r") {
			t.Errorf("VSSFailure(%q) = %q, more than one line", line, r)
		}
		got := HumanError(line)
		if got == line {
			return // not one of restic's error lines: kept as it is
		}
		if strings.ContainsAny(got, "\n\r") {
			t.Errorf("HumanError(%q) = %q, more than one line", line, got)
		}
		if len(got) > 3*maxJSONLine {
			t.Errorf("HumanError of %d bytes gave %d", len(line), len(got))
		}
	})
}

// TestHumanErrorOneLine: an error line whose error or item holds a line
// break (a file name may) is still one line, as FuzzHumanError found.
func TestHumanErrorOneLine(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"message_type":"error","error":"a\nb","item":"/srv/x\ny"}`, "error on /srv/x?y: a; b"},
		{`{"message_type":"error","error":{"Op":"open","Path":"/srv/\r\n","Err":13},"during":"archival","item":"/srv/\u001b[31m"}`, "error during archival of /srv/?[31m: open /srv/??: " + errno13},
		{`{"message_type":"error","message":"check\nfailed"}`, "error: check; failed"},
	} {
		if got := HumanError(tc.line); got != tc.want {
			t.Errorf("HumanError(%s)\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
}
