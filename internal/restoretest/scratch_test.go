package restoretest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An existing scratch directory that another user owns, or may write to,
// is refused: they could swap its content for symlinks during the restore.
func TestPrepareScratchRefusesADirectoryOthersControl(t *testing.T) {
	base := t.TempDir()
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o700)
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatalf("chown (the tests run as root, `make test`): %v", err)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	for _, dir := range []string{theirs, open} {
		if _, _, err := PrepareScratch(dir); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("PrepareScratch(%s) = %v, want a refusal", filepath.Base(dir), err)
		}
	}
	mine := filepath.Join(base, "mine")
	os.Mkdir(mine, 0o755)
	got, cleanup, err := PrepareScratch(mine)
	if err != nil || got != mine {
		t.Fatalf("PrepareScratch(own empty directory) = %q, %v", got, err)
	}
	if err := cleanup(); err != nil {
		t.Error(err)
	}
}
