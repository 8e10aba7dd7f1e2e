package backuprun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The lock directory made in a directory every user can write to must be
// this user's own.
func TestOwnDir(t *testing.T) {
	base := t.TempDir()
	mine := filepath.Join(base, "mine")
	if err := OwnDir(mine); err != nil {
		t.Fatalf("new directory: %v", err)
	}
	if err := OwnDir(mine); err != nil {
		t.Errorf("own directory again: %v", err)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o700)
	os.Chown(theirs, 65534, 65534)
	link := filepath.Join(base, "link")
	os.Symlink(mine, link)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	for _, dir := range []string{open, theirs, link, file} {
		if err := OwnDir(dir); err == nil || !strings.Contains(err.Error(), "--lock.file") {
			t.Errorf("OwnDir(%s) = %v, want a refusal naming --lock.file", filepath.Base(dir), err)
		}
	}
}
