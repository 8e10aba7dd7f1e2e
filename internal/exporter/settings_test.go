package exporter

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSettingsValidate: serve's defaults pass; each setting out of its
// range is refused, named by its flag, with the others reported at once.
func TestSettingsValidate(t *testing.T) {
	good := Settings{Interval: 15 * time.Minute, NudgeRate: 10, Concurrency: 8, MaxRequests: DefaultMaxRequests, MaxPageRenders: DefaultMaxPageRenders, MaxWait: 5 * time.Second}
	if err := good.Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Settings)
		want string // "" for valid
	}{
		{"interval of 1s", func(s *Settings) { s.Interval = time.Second }, ""},
		{"interval under 1s", func(s *Settings) { s.Interval = 999 * time.Millisecond }, "--refresh.interval must be at least 1s, not 999ms"},
		{"nudge rate 0", func(s *Settings) { s.NudgeRate = 0 }, "--refresh.nudge-rate must be above 0 and at most 10000, not 0"},
		{"nudge rate 10000", func(s *Settings) { s.NudgeRate = 10000 }, ""},
		{"nudge rate above 10000", func(s *Settings) { s.NudgeRate = 10000.5 }, "--refresh.nudge-rate"},
		{"concurrency 0", func(s *Settings) { s.Concurrency = 0 }, "--refresh.concurrency must be between 1 and 256, not 0"},
		{"concurrency 256", func(s *Settings) { s.Concurrency = 256 }, ""},
		{"concurrency 257", func(s *Settings) { s.Concurrency = 257 }, "--refresh.concurrency"},
		{"external URL", func(s *Settings) { s.ExternalURL = "https://backupwatch.example.org/" }, ""},
		{"external URL with a password", func(s *Settings) { s.ExternalURL = "https://u:p@backupwatch.example.org/" }, "--web.external-url: must not hold a user name or password"},
		{"max requests 0", func(s *Settings) { s.MaxRequests = 0 }, "--web.max-requests must be between 1 and 1024, not 0"},
		{"max requests 1025", func(s *Settings) { s.MaxRequests = 1025 }, "--web.max-requests"},
		{"max page renders 0", func(s *Settings) { s.MaxPageRenders = 0 }, "--web.max-page-renders must be between 1 and 1024, not 0"},
		{"max wait 0", func(s *Settings) { s.MaxWait = 0 }, "--web.max-wait must be above 0s and at most 10m, not 0s"},
		{"max wait 10m", func(s *Settings) { s.MaxWait = 10 * time.Minute }, ""},
		{"max wait above 10m", func(s *Settings) { s.MaxWait = 10*time.Minute + time.Second }, "--web.max-wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.edit(&s)
			err := s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
	all := Settings{NudgeRate: -1, ExternalURL: "ftp://x"}
	err := all.Validate()
	if err == nil {
		t.Fatal("all wrong: valid")
	}
	for _, flag := range []string{"--refresh.interval", "--refresh.nudge-rate", "--refresh.concurrency", "--web.external-url", "--web.max-requests", "--web.max-page-renders", "--web.max-wait"} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("all wrong: %s not named in\n%v", flag, err)
		}
	}
}

// TestSnapshotFile: none without a state directory; the directory made
// when missing; one that cannot be made is warned about and done without.
func TestSnapshotFile(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	if got := SnapshotFile("", logger); got != "" {
		t.Errorf("no --state.dir: %q, want none", got)
	}
	dir := filepath.Join(t.TempDir(), "state", "deeper")
	if got, want := SnapshotFile(dir, logger), filepath.Join(dir, "snapshot.json.gz"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("state directory not made: %v", err)
	}
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := SnapshotFile(filepath.Join(file, "state"), logger); got != "" {
		t.Errorf("a state directory under a file: %q, want none", got)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "--state.dir") {
		t.Errorf("no warning naming --state.dir:\n%s", logs.String())
	}
}
