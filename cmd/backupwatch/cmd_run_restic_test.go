package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/status"
)

// resticEnv is the environment of a restic run against repo with the
// test password, its cache in dir.
func resticEnv(dir, repo, password string) []string {
	return append(os.Environ(), "RESTIC_PASSWORD="+password, "RESTIC_REPOSITORY="+repo, "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
}

func resticCmd(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Both restics users run, Debian's (0.14) and a current one (0.19: its
// errors are JSON on stderr, its snapshot ids 64 hex digits): what `run`
// records is restic's message in words, never its raw JSON.
func TestRunBothRestics(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is needed to run restic as nobody: %v", err)
	}
	for _, r := range parts.Both(t, "restic") {
		t.Run(r.String(), func(t *testing.T) {
			dir := sharedTempDir(t)
			src := filepath.Join(dir, "src")
			os.MkdirAll(src, 0o755)
			os.WriteFile(filepath.Join(src, "a"), []byte("alpha\n"), 0o644)
			unreadable := filepath.Join(dir, "unreadable")
			os.MkdirAll(unreadable, 0o755)
			os.WriteFile(filepath.Join(unreadable, "ok"), []byte("fine\n"), 0o644)
			os.WriteFile(filepath.Join(unreadable, "secret"), []byte("root only\n"), 0o600)
			repo := filepath.Join(dir, "repo")
			env := resticEnv(dir, repo, testResticPassword)
			resticCmd(t, env, slices.Concat(nobody(), []string{r.Path, "init", "-q"})...)

			const wrongPassword = "not-the-password-at-all"
			backup := func(path string) []string {
				return slices.Concat(nobody(), []string{r.Path, "--no-cache", "backup", "--json", path})
			}
			// restic 0.14 exits 1 for every fatal error; 0.17+ says which.
			code := func(debian, current int) int {
				if r.Generation == parts.Debian {
					return debian
				}
				return current
			}
			idRE := regexp.MustCompile(`^[0-9a-f]{8}$`)
			if r.Generation == parts.Current {
				idRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
			}
			tests := []struct {
				name    string
				args    []string
				env     []string
				code    int
				status  string
				message []string // parts the message must hold
				id      bool     // a snapshot id is recorded
			}{
				{"success", backup(src), env, 0, status.Success, nil, true},
				{"wrong password", backup(src), resticEnv(dir, repo, wrongPassword), code(1, 12), status.Failed,
					[]string{"exit status", "wrong password or no key found"}, false},
				{"missing repository", backup(src), resticEnv(dir, filepath.Join(dir, "no-repo"), testResticPassword), code(1, 10), status.Failed,
					[]string{"exit status", "unable to open config file"}, false},
				{"missing source", backup(filepath.Join(dir, "no-such-dir")), env, 1, status.Failed,
					[]string{"exit status 1", "do not exist"}, false},
				{"unreadable file: exit 3", backup(unreadable), env, 3, status.Failed,
					[]string{"incomplete backup", "secret: permission denied"}, true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					e := newRunEnv(t, nil)
					o := &runOptions{host: "db", logFile: filepath.Join(t.TempDir(), "restic-backup.log"), exit3: status.Failed,
						lockFile: filepath.Join(t.TempDir(), "db.lock"), args: tt.args, env: tt.env, stdin: strings.NewReader("")}
					err := runRun(context.Background(), e.g, o)
					if got := exitStatus(err, io.Discard); got != tt.code {
						t.Fatalf("exit status = %d (%v), want %d\nstderr:\n%s", got, err, tt.code, e.err)
					}
					rec := e.record(t, "db")
					if rec["status"] != tt.status {
						t.Errorf("status = %q, want %q (record %v)", rec["status"], tt.status, rec)
					}
					msg := rec["message"]
					for _, want := range tt.message {
						if !strings.Contains(msg, want) {
							t.Errorf("message %q does not hold %q", msg, want)
						}
					}
					if tt.status == status.Success && msg != "" {
						t.Errorf("message on success = %q, want none", msg)
					}
					t.Logf("message: %q", msg)
					if strings.Contains(msg, "message_type") || strings.Contains(msg, "{") {
						t.Errorf("message holds restic's raw JSON: %q", msg)
					}
					if id := rec["snapshot_id"]; tt.id != (id != "") || id != "" && !idRE.MatchString(id) {
						t.Errorf("snapshot_id = %q, want an id: %v, like %s", id, tt.id, idRE)
					}
					for what, text := range map[string]string{"stderr": e.err.String(), "message": msg} {
						if strings.Contains(text, testResticPassword) || strings.Contains(text, wrongPassword) {
							t.Errorf("a password is in the %s", what)
						}
					}
				})
			}
		})
	}
}

// restore-test run with both restics: a pass, and restic's own reason,
// in words, when the repository cannot be opened.
func TestRestoreTestRunBothRestics(t *testing.T) {
	for _, r := range parts.Both(t, "restic") {
		t.Run(r.String(), func(t *testing.T) {
			dir := t.TempDir()
			repo := filepath.Join(dir, "repo")
			env := resticEnv(dir, repo, testResticPassword)
			src := filepath.Join(dir, "srv", "db")
			os.MkdirAll(src, 0o755)
			os.WriteFile(filepath.Join(src, "base.sql"), []byte(strings.Repeat("INSERT INTO guild VALUES (1);\n", 100)), 0o644)
			resticCmd(t, env, r.Path, "init", "-q")
			resticCmd(t, env, r.Path, "backup", "-q", "--host", "db.golemtrust.am", src)

			tests := []struct {
				name   string
				repo   string
				env    []string
				result string
				notes  []string
			}{
				{"passes", repo, env, status.Passed, []string{"restored snapshot", "of db.golemtrust.am", "restic check passed", "1 expected paths present"}},
				{"wrong password", repo, resticEnv(dir, repo, "not-the-password-at-all"), status.Failed,
					[]string{"find snapshot latest", "wrong password or no key found"}},
				{"missing repository", filepath.Join(dir, "no-repo"), env, status.Failed,
					[]string{"find snapshot latest", "unable to open config file"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					e := newRunEnv(t, nil)
					t.Setenv("TMPDIR", t.TempDir())
					o := &restoreTestRunOptions{repo: tt.repo, snapshot: "latest", expect: []string{filepath.Join(src, "base.sql")}, binary: r.Path, env: tt.env}
					err := runRestoreTestRun(context.Background(), e.g, o)
					wantCode := exitOK
					if tt.result != status.Passed {
						wantCode = exitError
					}
					if got := exitStatus(err, io.Discard); got != wantCode {
						t.Errorf("exit = %d (%v), want %d\n%s", got, err, wantCode, e.err)
					}
					rec := e.record(t, status.RestoreTestKey)
					if rec["result"] != tt.result {
						t.Errorf("result = %q, want %q (notes %q)", rec["result"], tt.result, rec["notes"])
					}
					for _, want := range tt.notes {
						if !strings.Contains(rec["notes"], want) {
							t.Errorf("notes %q do not say %q", rec["notes"], want)
						}
					}
					t.Logf("notes: %q", rec["notes"])
					if strings.Contains(rec["notes"], "message_type") {
						t.Errorf("notes hold restic's raw JSON: %q", rec["notes"])
					}
				})
			}
		})
	}
}
