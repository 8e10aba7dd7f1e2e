package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// spoolTree is every file and directory under dir with its mode and
// content, to tell whether a command changed anything.
func spoolTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		tree[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestFlushListChangesNothing: flush --list "delivers nothing", and
// changes nothing either: an unreadable file stays where it is (the next
// flush sets it aside) and is reported; --discard with no ID is a usage
// error, never a full flush. (Issue 16, smaller items.) Vault is not
// needed: it is unreachable, as when results are spooled.
func TestFlushListChangesNothing(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s.test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spoolBase := filepath.Join(dir, "spool")
	vault := []string{"--vault.address=http://127.0.0.1:1", "--vault.kv-version=2", "--vault.token-file=" + tokenFile, "--spool.dir=" + spoolBase, "--vault.timeout=1s"}
	code, _, errOut := cli(t, append(vault, "record", "--host=db", "--status=failed", "--message=disk full")...)
	if code != exitError || !strings.Contains(errOut, "kept in") {
		t.Fatalf("record with Vault unreachable: exit %d, stderr %q; want it kept", code, errOut)
	}
	sp := storeSpoolOf(t, spoolBase)
	bad := writeSpoolFile(t, sp, time.Now().Add(-time.Hour), `{"version":1,"kind":"nonsense"}`)
	before := spoolTree(t, spoolBase)

	code, out, errOut := cli(t, append(vault, "flush", "--list")...)
	if code != exitOK || !strings.Contains(out, `"disk full"`) {
		t.Errorf("flush --list: exit %d\n%s\nstderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, strings.TrimSuffix(bad, ".json")) || !strings.Contains(errOut, "unknown kind") {
		t.Errorf("flush --list does not report the unreadable file %s:\n%s", bad, errOut)
	}
	after := spoolTree(t, spoolBase)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("flush --list changed %s: %q, was %q", p, after[p], v)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("flush --list made %s", p)
		}
	}

	for _, args := range [][]string{{"flush", "--discard="}, {"flush", "--discard", ""}, {"flush", "--list", "--discard="}} {
		code, _, errOut := cli(t, append(vault, args...)...)
		if code != exitUsage || !strings.Contains(errOut, "--discard") || strings.Contains(errOut, "still waiting") {
			t.Errorf("%v: exit %d, stderr %q; want %d, a usage error about --discard", args, code, errOut, exitUsage)
		}
	}
	if got := spoolTree(t, spoolBase); len(got) != len(before) {
		t.Errorf("flush --discard='' changed the spool: %d paths, was %d", len(got), len(before))
	}
}
