package status

import (
	"testing"
	"time"
)

// TestMessageCleanedAtWrite is issue 16's smaller item: restic's message
// (or a restore test's notes) is cleaned once, when it is written, so that
// every reader of the record (vault kv get, the runbook's scripts, the
// status page, the exporter) gets text, not terminal escapes or NUL bytes.
func TestMessageCleanedAtWrite(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"\x1b[31mFatal:\x1b[0m unable to open config file", "Fatal: unable to open config file"},
		{"disk\x00 full\x07", "disk full"},
		{"Fatal: \x1b]0;title\x07repository is locked\r\n", "Fatal: repository is locked"},
		{"line one\nline two\ttabbed", "line one\nline two\ttabbed"},
		{"bad utf-8 \xff here", "bad utf-8 \uFFFD here"},
		{"\x1b[2K\x1b[1Gscanning", "scanning"},
		{"\u202eevil", "evil"},
	} {
		doc, _ := Apply(nil, Result{Outcome: Failed, At: time.Now(), Message: tc.in})
		if got := doc[FieldMessage]; got != tc.want {
			t.Errorf("message %q written as %q, want %q", tc.in, got, tc.want)
		}
		rt, _ := ApplyRestoreTest(nil, RestoreTest{LastTest: time.Now(), Result: Failed, Notes: tc.in})
		if got := rt[FieldNotes]; got != tc.want {
			t.Errorf("notes %q written as %q, want %q", tc.in, got, tc.want)
		}
	}
	if doc, _ := Apply(nil, Result{Outcome: Failed, At: time.Now(), Message: "\x1b[0m\x00"}); doc[FieldMessage] != nil {
		t.Errorf("a message of nothing but escapes written as %q, want none", doc[FieldMessage])
	}
}
