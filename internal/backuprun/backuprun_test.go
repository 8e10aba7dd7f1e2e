package backuprun

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestIsSecretName(t *testing.T) {
	tests := map[string]bool{
		"RESTIC_PASSWORD": true, "AWS_SECRET_ACCESS_KEY": true, "B2_ACCOUNT_KEY": true, "AZURE_ACCOUNT_KEY": true,
		"GOOGLE_PROJECT_ID": true, "DB_PASSWORD": true, "VAULT_TOKEN": true, "GITHUB_TOKEN": true, "MY_SECRET_THING": true,
		"SSH_KEY": true, "ENCRYPTION_KEY_V2": true, "restic_password": true, "AZURE_ACCOUNT_SAS": true,
		"RESTIC_PASSWORD_FILE": false, "GOOGLE_APPLICATION_CREDENTIALS": false, "PATH": false, "HOME": false,
		"RESTIC_REPOSITORY": false, "AWS_ACCESS_KEY_ID": true, "KEYBOARD": false, "MONKEY": false, "TERM": false,
		"RCLONE_CONFIG_OFFSITE_PASS": true, "PASSAGE": false, "COMPASS": false,
	}
	for name, want := range tests {
		if got := IsSecretName(name); got != want {
			t.Errorf("IsSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestScrubber(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("file-held-password\n"), 0o600)
	env := []string{
		"RESTIC_PASSWORD=hunter2-long",
		"AWS_SECRET_ACCESS_KEY=AKs3cr3t/with+chars",
		"GOOGLE_PROJECT_ID=proj-123456",
		"RESTIC_PASSWORD_FILE=" + pwFile,
		"RESTIC_REPOSITORY=rest:https://backup:url%21pass@rest.example:8000/db",
		"FEATURE_TOKEN_ENABLED=true", // a setting, not a secret
		"SHORT_TOKEN=abc",            // too short to scrub without wrecking text
		"PATH=/usr/bin:/bin",
		`B2_ACCOUNT_KEY=b2<key>&"q\`, // JSON escapes all of <, >, &, " and \
		"RCLONE_CONFIG_OFFSITE_PASS=rclone-obscured-pass",
	}
	s := NewScrubber(env, []string{"restic", "-r", "s3:https://key:argsecret@s3.example/bucket"}, "extra-secret")
	tests := []struct{ in, want string }{
		{"password hunter2-long rejected", "password [redacted] rejected"},
		{"key AKs3cr3t/with+chars and proj-123456", "key [redacted] and [redacted]"},
		{"read file-held-password", "read [redacted]"},
		{"repo rest:https://backup:url%21pass@rest.example:8000/db", "repo rest:https://backup:[redacted]@rest.example:8000/db"},
		{"decoded url!pass", "decoded [redacted]"},
		{"s3:https://key:argsecret@s3.example", "s3:https://key:[redacted]@s3.example"},
		{"it is true that abc is in /usr/bin:/bin", "it is true that abc is in /usr/bin:/bin"},
		{"extra-secret", "[redacted]"},
		{`{"message_type":"error","error":{"message":"key b2\u003ckey\u003e\u0026\"q\\ refused"}}`, `{"message_type":"error","error":{"message":"key [redacted] refused"}}`},
		{`{"error":"key b2<key>&\"q\\"}`, `{"error":"key [redacted]"}`},
		{`key b2<key>&"q\ refused`, "key [redacted] refused"},
		{"pass rclone-obscured-pass", "pass [redacted]"},
	}
	for _, tt := range tests {
		if got := s.Scrub(tt.in); got != tt.want {
			t.Errorf("Scrub(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var none *Scrubber
	if got := none.Scrub("x"); got != "x" {
		t.Errorf("nil scrubber changed text: %q", got)
	}
}

var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d (stdout|stderr|backupwatch): `)

func TestRunPassesThroughLogsAndReports(t *testing.T) {
	secret := "s3cr3t-value"
	env := append(os.Environ(), "RESTIC_PASSWORD="+secret)
	s := NewScrubber(env, nil)
	tests := []struct {
		name     string
		script   string
		code     int
		stdout   string
		stderr   string
		tail     []string
		logLines int
	}{
		{"success", `echo one; echo two`, 0, "one\ntwo\n", "", nil, 2},
		{"failure with tail", `echo out; for i in 1 2 3 4 5 6 7; do echo "err $i" >&2; done; exit 4`, 4,
			"out\n", "err 1\nerr 2\nerr 3\nerr 4\nerr 5\nerr 6\nerr 7\n", []string{"err 3", "err 4", "err 5", "err 6", "err 7"}, 8},
		{"secret scrubbed everywhere", `echo "pw=$RESTIC_PASSWORD"; echo "bad $RESTIC_PASSWORD" >&2; exit 1`, 1,
			"pw=[redacted]\n", "bad [redacted]\n", []string{"bad [redacted]"}, 2},
		{"no final newline", `printf 'partial'; printf 'oops' >&2; exit 2`, 2, "partial", "oops", []string{"oops"}, 2},
		{"killed by a signal", `kill -KILL $$`, 128 + 9, "", "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut, log bytes.Buffer
			var seen []string
			res, err := Run(Options{
				Args: []string{"sh", "-c", tt.script}, Env: env,
				Stdout: &out, Stderr: &errOut, Log: &log, Scrub: s.Scrub,
				OnStdout: func(l string) { seen = append(seen, l) },
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.ExitCode != tt.code {
				t.Errorf("exit code = %d, want %d", res.ExitCode, tt.code)
			}
			if got := out.String(); got != tt.stdout {
				t.Errorf("stdout = %q, want %q", got, tt.stdout)
			}
			if got := errOut.String(); got != tt.stderr {
				t.Errorf("stderr = %q, want %q", got, tt.stderr)
			}
			if !reflect.DeepEqual(res.Tail, tt.tail) {
				t.Errorf("tail = %q, want %q", res.Tail, tt.tail)
			}
			lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
			if log.Len() == 0 {
				lines = nil
			}
			if len(lines) != tt.logLines {
				t.Errorf("%d log lines, want %d:\n%s", len(lines), tt.logLines, log.String())
			}
			for _, l := range lines {
				if !logLine.MatchString(l) {
					t.Errorf("log line without timestamp and stream: %q", l)
				}
			}
			for what, text := range map[string]string{"stdout": out.String(), "stderr": errOut.String(), "log": log.String(), "hook": strings.Join(seen, "\n")} {
				if strings.Contains(text, secret) {
					t.Errorf("%s holds the secret: %q", what, text)
				}
			}
			if tt.code == 128+9 && res.Signal != syscall.SIGKILL {
				t.Errorf("signal = %v, want SIGKILL", res.Signal)
			}
		})
	}
}

func TestRunForwardsSignals(t *testing.T) {
	tests := []struct {
		name   string
		script string
		sig    syscall.Signal
		code   int
	}{
		// A child that does not handle the signal dies of it: 128+n.
		{"default action", `echo ready; exec sleep 60`, syscall.SIGTERM, 128 + 15},
		// One that handles it exits as it likes.
		{"handled", `trap 'kill $!; echo bye >&2; exit 130' INT; sleep 60 & echo ready; wait`, syscall.SIGINT, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigs := make(chan os.Signal, 1)
			ready := make(chan struct{})
			var once sync.Once
			done := make(chan Result, 1)
			go func() {
				res, err := Run(Options{
					Args: []string{"sh", "-c", tt.script}, Signals: sigs,
					OnStdout: func(l string) {
						if l == "ready" {
							once.Do(func() { close(ready) })
						}
					},
				})
				if err != nil {
					t.Errorf("Run: %v", err)
				}
				done <- res
			}()
			select {
			case <-ready:
			case <-time.After(30 * time.Second):
				t.Fatal("child never got ready")
			}
			sigs <- tt.sig
			var res Result
			select {
			case res = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("child did not end after the signal")
			}
			if res.ExitCode != tt.code {
				t.Errorf("exit code = %d, want %d", res.ExitCode, tt.code)
			}
			if res.Forwarded != tt.sig {
				t.Errorf("forwarded = %v, want %v", res.Forwarded, tt.sig)
			}
		})
	}
}

func TestRunCannotStart(t *testing.T) {
	var log bytes.Buffer
	res, err := Run(Options{Args: []string{"/nonexistent/backup-program"}, Log: &log})
	if err == nil || res.ExitCode != 127 {
		t.Fatalf("Run = %d, %v; want 127 and an error", res.ExitCode, err)
	}
	if !strings.Contains(log.String(), "/nonexistent/backup-program") {
		t.Errorf("log does not say what could not start: %q", log.String())
	}
	if _, err := Run(Options{}); err == nil {
		t.Error("Run with no command: no error")
	}
}

func TestLockRefusesASecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locks", "db.lock")
	l1, err := TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = TryLock(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock: %v, want ErrLocked", err)
	}
	if want := "pid " + strconv.Itoa(os.Getpid()); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the lock and %q", err, want)
	}
	if err := l1.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := TryLock(path)
	if err != nil {
		t.Fatalf("TryLock after Unlock: %v", err)
	}
	l2.Unlock()
}

// A lock file that is a symlink is refused, its target left as it was.
func TestLockRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	link := filepath.Join(dir, "db.lock")
	os.Symlink(victim, link)
	if l, err := TryLock(link); err == nil {
		l.Unlock()
		t.Fatal("TryLock through a symlink: no error")
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the symlink's target changed: %q", b)
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, syscall.ENOSPC
	}
	w.n--
	return len(p), nil
}

// A log that fails (a full disk) does not stop the run, and says so.
func TestRunReportsALogThatFailed(t *testing.T) {
	var out bytes.Buffer
	res, err := Run(Options{Args: []string{"sh", "-c", "echo one; echo two; echo three"}, Stdout: &out, Log: &failingWriter{n: 1}})
	if err != nil || res.ExitCode != 0 || out.String() != "one\ntwo\nthree\n" {
		t.Fatalf("Run = %d, %v, stdout %q; want the run to go on", res.ExitCode, err, out.String())
	}
	if !errors.Is(res.LogErr, syscall.ENOSPC) {
		t.Errorf("LogErr = %v, want the log's write error", res.LogErr)
	}
	res, _ = Run(Options{Args: []string{"true"}, Log: &bytes.Buffer{}})
	if res.LogErr != nil {
		t.Errorf("LogErr = %v for a log that worked", res.LogErr)
	}
}
