package restic

import (
	"bufio"
	"context"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lastSummary reads a captured restic --json output file as `run` does:
// line by line, keeping the last summary.
func lastSummary(t *testing.T, name string) (Summary, bool) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got Summary
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s, ok := ParseSummary(sc.Bytes()); ok {
			got, found = s, true
		}
	}
	return got, found
}

func TestSummaryFromRealOutput(t *testing.T) {
	tests := []struct {
		file      string
		found     bool
		fields    map[string]string
		durationS float64
	}{
		{"backup-0.14.jsonl", true, map[string]string{
			"snapshot_id": "bc5bb2ac", "bytes_added": "702", "files_new": "2", "files_changed": "0", "files_unmodified": "0",
			"total_files_processed": "2", "total_bytes_processed": "12",
		}, 0.209142561},
		{"backup-exit3-0.14.jsonl", true, map[string]string{
			"snapshot_id": "38594a04", "bytes_added": "714", "files_new": "1", "files_changed": "0", "files_unmodified": "0",
			"total_files_processed": "1", "total_bytes_processed": "2",
		}, 93.169423163},
		// restic 0.17+ names the snapshot by its full id.
		{"backup-0.19.jsonl", true, map[string]string{
			"snapshot_id": "9eb5b153ce8eda9a05053cd8fd06ae2848002f52c635f6f7d406c22b41981939", "bytes_added": "701", "files_new": "1", "files_changed": "0", "files_unmodified": "0",
			"total_files_processed": "1", "total_bytes_processed": "3",
		}, 1.104690354},
		{"backup-exit3-0.19.jsonl", true, map[string]string{
			"snapshot_id": "f4be0fae2999217e6288b72928a3eaedb43bd38a1e01822c905ebbb8dd8fb9ca", "bytes_added": "700", "files_new": "1", "files_changed": "0", "files_unmodified": "0",
			"total_files_processed": "1", "total_bytes_processed": "3",
		}, 0.504696644},
		// A bad snapshot id is dropped, missing counts are left out, a
		// count of the wrong type makes the line not a summary.
		{"bad.jsonl", true, map[string]string{"bytes_added": "5"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, found := lastSummary(t, tt.file)
			if found != tt.found {
				t.Fatalf("summary found = %v, want %v", found, tt.found)
			}
			if got := s.Fields(); !maps.Equal(got, tt.fields) {
				t.Errorf("fields = %v, want %v", got, tt.fields)
			}
			if s.TotalDuration != tt.durationS {
				t.Errorf("duration = %v, want %v", s.TotalDuration, tt.durationS)
			}
		})
	}
}

func TestParseSummaryRejects(t *testing.T) {
	for _, line := range []string{
		``, `Files: 1 new`, `{"message_type":"status","percent_done":0.5}`, `{"message_type":"summary"`,
		`["summary"]`, `{"message_type":"summary","files_new":"many"}`, `{"message_type":"summary","total_duration":"x"}`,
	} {
		if s, ok := ParseSummary([]byte(line)); ok {
			t.Errorf("ParseSummary(%q) = %+v, true; want not a summary", line, s)
		}
	}
}

// errno13 is how the error number 13 of restic 0.14's JSON reads here:
// restic writes its own system's numbers, Linux's EACCES in these samples
// ("permission denied"). On Windows 13 is ERROR_INVALID_DATA: a Windows
// restic writes 5, ERROR_ACCESS_DENIED, for the same failure, and the
// agent there reads it with Windows' text (make test-windows found this).
var errno13 = func() string {
	if runtime.GOOS == "windows" {
		return syscall.Errno(13).Error()
	}
	return "permission denied"
}()

func TestHumanError(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"message_type":"error","error":{"Op":"open","Path":"/srv/b","Err":13},"during":"archival","item":"/srv/b"}`,
			"error during archival of /srv/b: open /srv/b: " + errno13},
		{`{"message_type":"error","error":"boom","item":"/x"}`, "error on /x: boom"},
		{`{"message_type":"error","error":{"Message":"no luck"}}`, "error: no luck"},
		{`{"message_type":"error","error":{"x":1},"during":"scan","item":"/y"}`, `error during scan of /y: {"x":1}`},
		{`Fatal: all target directories/files do not exist`, `Fatal: all target directories/files do not exist`},
		// restic 0.17+: the error is an object with a message; check's is
		// at the top; the exit message is a line of its own.
		{`{"message_type":"error","error":{"message":"/srv/u/secret: open /srv/u/secret: permission denied"},"during":"archival","item":"/srv/u/secret"}`,
			"error during archival of /srv/u/secret: /srv/u/secret: open /srv/u/secret: permission denied"},
		{`{"message_type":"error","message":"pack 1a2b: not referenced in any index"}`, "error: pack 1a2b: not referenced in any index"},
		{`{"message_type":"exit_error","code":12,"message":"Fatal: wrong password or no key found"}`, "Fatal: wrong password or no key found"},
		{`{"message_type":"exit_error","code":10,"message":"Fatal: repository does not exist: unable to open config file: stat /srv/nothing/config: no such file or directory\nIs there a repository at the following location?\n/srv/nothing"}`,
			"Fatal: repository does not exist: unable to open config file: stat /srv/nothing/config: no such file or directory; Is there a repository at the following location?; /srv/nothing"},
		{`{"message_type":"exit_error","code":1,"message":"unexpected EOF\ngithub.com/restic/restic/internal/repository.(*Repository).LoadIndex\n\t/restic/internal/repository/repository.go:700"}`, "unexpected EOF"},
		{`{"message_type":"exit_error","code":11}`, "restic exited with code 11"},
		{`{"message_type":"exit_error"}`, `{"message_type":"exit_error"}`},
		{`{"message_type":"status"}`, `{"message_type":"status"}`},
		{`{broken`, `{broken`},
	}
	for _, tt := range tests {
		if got := HumanError(tt.in); got != tt.want {
			t.Errorf("HumanError(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLastLines(t *testing.T) {
	got := lastLines("a\n\nb\nc\n\n", 2)
	if want := "b; c"; got != want {
		t.Errorf("lastLines = %q, want %q", got, want)
	}
	tb := &tailBuffer{max: 4}
	tb.Write([]byte("0123456789"))
	tb.Write([]byte("ab"))
	if got, want := tb.String(), "89ab"; got != want {
		t.Errorf("tailBuffer = %q, want %q", got, want)
	}
}

func TestParseSnapshotSaved(t *testing.T) {
	tests := []struct {
		line string
		id   string
		ok   bool
	}{
		{"snapshot ef85de86 saved", "ef85de86", true},
		{"snapshot ef85de86 saved\r", "ef85de86", true},
		{"snapshot ../etc saved", "", false},
		{"snapshot ef85 saved", "", false},
		{"processed 3 files, 16 B in 0:00", "", false},
		{"snapshot ef85de86 not saved", "", false},
	}
	for _, tt := range tests {
		id, ok := ParseSnapshotSaved(tt.line)
		if id != tt.id || ok != tt.ok {
			t.Errorf("ParseSnapshotSaved(%q) = %q, %v; want %q, %v", tt.line, id, ok, tt.id, tt.ok)
		}
	}
}

// An interrupted restic is sent SIGINT, as on Ctrl-C, so that it removes
// its repository lock; not SIGKILL, which leaves the lock behind.
func TestInterruptedResticGetsSIGINT(t *testing.T) {
	dir := t.TempDir()
	started, stopped := filepath.Join(dir, "started"), filepath.Join(dir, "stopped")
	bin := filepath.Join(dir, "restic")
	script := "#!/bin/sh\ntrap 'echo SIGINT > " + stopped + "; exit 130' INT\ntouch " + started + "\nwhile :; do sleep 0.05; done\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(started); err == nil {
				break
			}
		}
		cancel()
	}()
	err := Repo{Binary: bin, Repository: dir}.Check(ctx, false, "")
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("Check = %v, want interrupted", err)
	}
	if b, _ := os.ReadFile(stopped); string(b) != "SIGINT\n" {
		t.Errorf("restic was not sent SIGINT (trap wrote %q)", b)
	}
}

// The repository, whose URL may hold a password, is given to restic in
// its environment, never on the command line that every user can read.
func TestRepositoryNotOnTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen")
	bin := filepath.Join(dir, "restic")
	script := "#!/bin/sh\necho \"args: $*\" > " + seen + "\necho \"repo: $RESTIC_REPOSITORY\" >> " + seen + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	const repo = "rest:https://backup:s3cr3t-pw@rest.example:8000/db"
	for _, env := range [][]string{nil, {"PATH=/usr/bin:/bin", "RESTIC_REPOSITORY=/some/other"}} {
		if err := (Repo{Binary: bin, Repository: repo, Env: env}).Check(context.Background(), false, ""); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(seen)
		if want := "args: --no-cache check\nrepo: " + repo + "\n"; string(b) != want {
			t.Errorf("env %v: restic saw %q, want %q", env, b, want)
		}
	}
}

// restic 0.19's stderr of a backup that exits 3, as the record shows it.
func TestHumanErrorExit3(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "stderr-exit3-0.19.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got := lastLines(string(b), 3)
	want := "error during archival of /srv/u/secret: /srv/u/secret: open /srv/u/secret: permission denied; Warning: at least one source file could not be read"
	if got != want {
		t.Errorf("lastLines = %q, want %q", got, want)
	}
}
