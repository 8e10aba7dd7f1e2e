package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestRunKeepsTheFailedRunsLog: a failed run keeps the end of its output,
// scrubbed, cleaned and bounded, beside its record (never in it), on the
// local store and on Vault; a success keeps none.
func TestRunKeepsTheFailedRunsLog(t *testing.T) {
	v := vaulttest.Start(t)
	for _, store := range []string{"local", "vault"} {
		t.Run(store, func(t *testing.T) {
			var e *runEnv
			if store == "vault" {
				e = newRunEnv(t, v)
			} else {
				e = newRunEnv(t, nil)
			}
			env := append(os.Environ(), "RESTIC_PASSWORD=pw-"+testResticPassword)
			// 10 MB of output with NUL, invalid UTF-8, colours and a
			// window title, the password on the way, then the last words (on
			// stdout too: the two streams are read apart, in no set order).
			script := `i=0; while [ $i -lt 2000 ]; do printf 'line %d: \033[31mred\033[0m \000 \377\376 \033]0;title\007 password %s %05000d\n' $i "$RESTIC_PASSWORD" 0; i=$((i+1)); done; echo "Fatal: wrong password $RESTIC_PASSWORD"; exit 1`
			o := &runOptions{host: "db", exit3: status.Failed, lockFile: filepath.Join(t.TempDir(), "l"), args: []string{"sh", "-c", script}, env: env}
			if got := exitStatus(runRun(context.Background(), e.g, o), io.Discard); got != 1 {
				t.Fatalf("exit = %d, want 1", got)
			}
			if rec := e.record(t, "db"); rec[status.FieldLog] != "" {
				t.Error("the record holds the log: serve would read it on every refresh")
			}
			st, err := e.g.store.open(e.g, 1)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := st.Get(context.Background(), status.SideKey("db", status.SideLog))
			if err != nil {
				t.Fatalf("read the log: %v", err)
			}
			l := status.ParseLog(doc)
			raw, _ := doc[status.FieldLog].(string)
			switch {
			case len(raw) > status.MaxLog || len(raw) < status.MaxLog/2:
				t.Errorf("log is %d bytes, want at most %d and most of it", len(raw), status.MaxLog)
			case strings.Contains(raw, testResticPassword):
				t.Error("the log holds the password")
			case strings.ContainsAny(raw, "\x00\x1b\x07") || !utf8.ValidString(raw):
				t.Errorf("the log holds control characters or invalid UTF-8: %q", raw[:200])
			case !strings.HasSuffix(raw, "Fatal: wrong password "+backuprun.Redacted):
				t.Errorf("the log does not end with the last line: %q", raw[len(raw)-200:])
			case l.At.IsZero() || l.ExitCode == nil || *l.ExitCode != 1:
				t.Errorf("log doc: at %v, exit code %v", l.At, l.ExitCode)
			}

			// A success afterwards keeps the failure's log: it is the
			// last failure's.
			o.args = []string{"true"}
			if got := exitStatus(runRun(context.Background(), e.g, o), io.Discard); got != 0 {
				t.Fatalf("exit = %d, want 0", got)
			}
			if doc2, err := st.Get(context.Background(), status.SideKey("db", status.SideLog)); err != nil || doc2[status.FieldLog] != doc[status.FieldLog] {
				t.Errorf("the success changed the failure's log: %v", err)
			}
			if keys, err := st.ListFolder(context.Background(), status.JobsFolder); err != nil || len(keys) != 0 {
				t.Errorf("jobs = %q, %v; want none: a log is no job", keys, err)
			}
		})
	}
}
