package status

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCleanLog: output of any size and content is kept as at most MaxLog
// bytes of text, its end.
func TestCleanLog(t *testing.T) {
	junk := "a\x00b\xff\xfe\x1b[31mred\x1b[0m\x1b]0;title\x07\r\u202e<script>é\n"
	for _, tc := range []struct {
		name, in, suffix string
	}{
		{"empty", "", ""},
		{"small", junk, "<script>é"},
		{"10 MB", strings.Repeat(junk, 10<<20/len(junk)) + "last words", "last words"},
		{"one 10 MB line", strings.Repeat("é", 5<<20) + "\x1b", "é"},
		{"cut in an escape", strings.Repeat("x", 3*MaxLog) + "\x1b]0;" + strings.Repeat("y", 2*MaxLog) + "\x07end", "end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CleanLog(tc.in)
			if len(got) > MaxLog || !utf8.ValidString(got) || !strings.HasSuffix(got, tc.suffix) {
				t.Errorf("CleanLog: %d bytes, valid %v, ends %q", len(got), utf8.ValidString(got), got[max(0, len(got)-20):])
			}
			for _, r := range got {
				if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || r == '\u202e') {
					t.Fatalf("CleanLog kept %U", r)
				}
			}
			if l := ParseLog(map[string]any{FieldLog: tc.in, FieldLogAt: "garbage", FieldExitCode: "x"}); l.Text != got || !l.At.IsZero() || l.ExitCode != nil {
				t.Errorf("ParseLog: %+v", l)
			}
		})
	}
}

func TestSideKeys(t *testing.T) {
	for _, tc := range []struct{ key, side string }{
		{"db", "jobs/db@~log"},
		{"jobs/db@files", "jobs/db@files~log"},
	} {
		side := SideKey(tc.key, SideLog)
		rec, kind, ok := SplitSideKey(side)
		if side != tc.side || rec != tc.key || kind != SideLog || !ok || !IsSideName(strings.TrimPrefix(side, "jobs/")) {
			t.Errorf("SideKey(%q) = %q, split %q %q %v", tc.key, side, rec, kind, ok)
		}
	}
	for _, key := range []string{"db", "jobs/db@files", "jobs/~x", "jobs/@~log"} {
		if _, _, ok := SplitSideKey(key); ok {
			t.Errorf("SplitSideKey(%q) ok", key)
		}
	}
}
