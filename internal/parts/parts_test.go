package parts

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatal runs fn with a recorder and returns what it failed with, "" if not.
func fatal(t *testing.T, fn func(tb testing.TB)) string {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r.msg
}

func TestCurrentPart(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BACKUPWATCH_TOOLS_BIN", dir)
	os.MkdirAll(filepath.Join(dir, ".stamp"), 0o755)
	os.WriteFile(filepath.Join(dir, "restic"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, ".stamp", "restic@v0.19.1"), []byte("61s\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "promtool"), []byte("not executable"), 0o644)

	var got Part
	if msg := fatal(t, func(tb testing.TB) { got = CurrentPart(tb, "restic") }); msg != "" {
		t.Fatalf("CurrentPart(restic) failed: %s", msg)
	}
	if want := (Part{Tool: "restic", Generation: Current, Path: filepath.Join(dir, "restic"), Version: "v0.19.1"}); got != want {
		t.Errorf("CurrentPart(restic) = %+v, want %+v", got, want)
	}
	for _, tool := range []string{"promtool", "amtool"} {
		msg := fatal(t, func(tb testing.TB) { CurrentPart(tb, tool) })
		if !strings.Contains(msg, "make deps") || !strings.Contains(msg, tool) {
			t.Errorf("CurrentPart(%s) failed with %q, want it to name the tool and `make deps`", tool, msg)
		}
	}
}

func TestDebianPart(t *testing.T) {
	var got Part
	if msg := fatal(t, func(tb testing.TB) { got = DebianPart(tb, "sh") }); msg != "" || got.Generation != Debian || !filepath.IsAbs(got.Path) {
		t.Errorf("DebianPart(sh) = %+v, failure %q; want Debian's sh", got, msg)
	}
	msg := fatal(t, func(tb testing.TB) { DebianPart(tb, "no-such-tool-anywhere") })
	if !strings.Contains(msg, "make deps") {
		t.Errorf("DebianPart of a missing tool failed with %q, want how to get it", msg)
	}
}

// Both fails when either generation is missing: a table over both never
// silently runs one.
func TestBothNeedsBoth(t *testing.T) {
	t.Setenv("BACKUPWATCH_TOOLS_BIN", t.TempDir())
	msg := fatal(t, func(tb testing.TB) { Both(tb, "sh") })
	if !strings.Contains(msg, "current sh is not built") {
		t.Errorf("Both(sh) without a current sh failed with %q", msg)
	}
}
