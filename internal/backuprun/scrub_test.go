package backuprun

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// TestScrubberAdd: secrets learned after the scrubber was made (a token a
// login returned, a secret id read from its file) are scrubbed from then
// on, in their restic --json forms too; values too short to be secrets are
// not, or every "ab" of a log would go.
func TestScrubberAdd(t *testing.T) {
	s := NewScrubber([]string{"RESTIC_PASSWORD=env-password"}, nil)
	const token = "hvs.CAESIlogin-token-from-approle"
	if got := s.Scrub("token " + token); got != "token "+token {
		t.Fatalf("scrubbed before the token was added: %q", got)
	}
	s.Add(token, "  a3f1c9e2-7d44-4b1e-9a0c-secret-id\n", "ab", "", `wrapped<tok>&"x`)
	s.Add(token) // again: nothing changes
	tests := []struct{ in, want string }{
		{"token " + token, "token [redacted]"},
		{"id a3f1c9e2-7d44-4b1e-9a0c-secret-id.", "id [redacted]."},
		{"env-password still", "[redacted] still"},
		{"ab stays, and so does abc", "ab stays, and so does abc"},
		{`{"message":"bad wrapped\u003ctok\u003e\u0026\"x"}`, `{"message":"bad [redacted]"}`},
		{`{"message":"bad wrapped<tok>&\"x"}`, `{"message":"bad [redacted]"}`},
	}
	for _, tt := range tests {
		if got := s.Scrub(tt.in); got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var none *Scrubber
	none.Add("no-panic-on-nil")
}

// TestScrubberAddWhileScrubbing: the child's two streams are scrubbed while
// the store logs in again; run with -race.
func TestScrubberAddWhileScrubbing(t *testing.T) {
	s := NewScrubber(nil, nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				s.Scrub(fmt.Sprintf("line %d of token-%03d", i, i%50))
			}
		}()
	}
	for i := 0; i < 50; i++ {
		s.Add(fmt.Sprintf("token-%03d", i))
	}
	wg.Wait()
	for i := 0; i < 50; i++ {
		if got := s.Scrub(fmt.Sprintf("x token-%03d", i)); got != "x [redacted]" {
			t.Errorf("token-%03d: %q", i, got)
		}
	}
}

// TestScrubberHandler: backupwatch's own log lines go through the scrubber:
// the message, string, error and Stringer values, in groups and in
// attributes bound with With.
func TestScrubberHandler(t *testing.T) {
	const secret = "s.own-log-secret-value"
	s := NewScrubber(nil, nil, secret)
	var buf bytes.Buffer
	log := slog.New(s.Handler(slog.NewTextHandler(&buf, nil)))
	log.With("bound", "b "+secret).WithGroup("g").Info("msg "+secret,
		"str", secret, "err", errors.New("login with "+secret+" failed"),
		"stringer", stringer("x"+secret), "n", 3, slog.Group("inner", "v", secret))
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Errorf("log line holds the secret:\n%s", out)
	}
	for _, want := range []string{`msg="msg [redacted]"`, `bound="b [redacted]"`, `g.str=[redacted]`, `g.err="login with [redacted] failed"`, `g.stringer=x[redacted]`, `g.n=3`, `g.inner.v=[redacted]`} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %q lacks %s", out, want)
		}
	}
	if !log.Enabled(t.Context(), slog.LevelInfo) || log.Enabled(t.Context(), slog.LevelDebug) {
		t.Errorf("the handler does not keep the level of the one it wraps")
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// TestRunStartErrorIsScrubbed: a program that cannot start is named in the
// error and the log, and that name goes through the scrubber too.
func TestRunStartErrorIsScrubbed(t *testing.T) {
	const secret = "path-held-secret"
	s := NewScrubber(nil, nil, secret)
	var log bytes.Buffer
	_, err := Run(Options{Args: []string{"/nonexistent/" + secret + "/restic", "backup"}, Log: &log, Scrub: s.Scrub})
	if err == nil {
		t.Fatal("a missing program started")
	}
	for what, text := range map[string]string{"error": err.Error(), "log": log.String()} {
		if strings.Contains(text, secret) || !strings.Contains(text, "start /nonexistent/[redacted]/restic") {
			t.Errorf("%s = %q; want the program named, scrubbed", what, text)
		}
	}
}
