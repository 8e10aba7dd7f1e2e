package lockfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestLockExcludesAndWaits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.lock")
	unlock, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path); !errors.Is(err, ErrHeld) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held = %v, want ErrHeld and the deadline", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := Lock(context.Background(), path)
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Errorf("Lock after unlock = %v", err)
	}
	if fi, err := os.Stat(path); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file = %v, %v; want mode 0600", fi, err)
	}
}

func TestLockRefusesSymlinksAndOddFiles(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("precious"), 0o600)
	link := filepath.Join(dir, "link.lock")
	if err := os.Symlink(target, link); err != nil {
		// Windows lets only administrators (or developer mode) make
		// symlinks, and wine makes none: that case is not run there.
		t.Logf("cannot make a symlink here, that case is not run: %v", err)
		link = ""
	}
	sub := filepath.Join(dir, "dir.lock")
	os.Mkdir(sub, 0o700)
	for _, tc := range []struct{ path, want string }{
		{link, "symlink"},
		{sub, "lock " + sub},
	} {
		if tc.path == "" {
			continue
		}
		if _, err := Lock(context.Background(), tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Lock(%s) = %v, want an error with %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	if _, err := Lock(context.Background(), filepath.Join(dir, "missing", "x.lock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lock(missing/x.lock) = %v, want fs.ErrNotExist", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("symlink target changed: %q", b)
	}
}
