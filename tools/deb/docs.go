package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2/files"
)

const docDir = "/usr/share/doc/backupwatch"

// stageDocs stages what Debian's policy wants of every package and the man
// page: the machine-readable copyright, changelog.gz from CHANGELOG.md,
// the README, and backupwatch.1.gz from kingpin's --help-man (one page
// for the command and every subcommand: kingpin makes no per-subcommand
// pages). Compressed with gzip -n's equivalent (no name, no time) so the
// same inputs give the same package.
func stageDocs(o options, stage string) (files.Contents, error) {
	dir := filepath.Join(stage, "doc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("stage docs: %w", err)
	}
	changelog, err := os.ReadFile(filepath.Join(o.root, "CHANGELOG.md"))
	if err != nil {
		return nil, fmt.Errorf("stage docs: %w", err)
	}
	man, err := exec.Command(o.binary, "--help-man").Output()
	if err != nil {
		return nil, fmt.Errorf("man page: %s --help-man: %w", o.binary, err)
	}
	// A non-native package has both: upstream's changelog.gz and Debian's
	// own changelog.Debian.gz (lintian's debian-changelog-file-missing).
	debChangelog := fmt.Sprintf("backupwatch (%s-1) unstable; urgency=medium\n\n"+
		"  * Packaged by tools/deb (nfpm) from upstream %s; see changelog.gz.\n\n"+
		" -- Golem Trust infrastructure <infrastructure@golemtrust.am>  Thu, 01 Jan 2026 00:00:00 +0000\n",
		debVersion(o.version, o.date), o.version)
	for name, b := range map[string][]byte{
		"changelog.gz":        changelog,
		"changelog.Debian.gz": []byte(debChangelog),
		"backupwatch.1.gz":    fixManHeader(man, o.version),
	} {
		if err := writeGzip(filepath.Join(dir, name), b); err != nil {
			return nil, fmt.Errorf("stage docs: %w", err)
		}
	}
	file := func(src, dst string) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: 0o644}}
	}
	return files.Contents{
		file(filepath.Join(o.root, "tools/deb/doc/copyright"), docDir+"/copyright"),
		file(filepath.Join(dir, "changelog.gz"), docDir+"/changelog.gz"),
		file(filepath.Join(dir, "changelog.Debian.gz"), docDir+"/changelog.Debian.gz"),
		file(filepath.Join(o.root, "README.md"), docDir+"/README.md"),
		file(filepath.Join(dir, "backupwatch.1.gz"), "/usr/share/man/man1/backupwatch.1.gz"),
	}, nil
}

// fixManHeader replaces kingpin's .TH line, which holds the whole
// multi-line --version text (and so breaks the page), by one naming the
// version.
func fixManHeader(man []byte, version string) []byte {
	lines := strings.Split(string(man), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], ".TH") {
		return man
	}
	i := 1
	for i < len(lines) && !strings.HasPrefix(lines[i], ".") {
		i++
	}
	for j := i; j+1 < len(lines); j++ {
		if lines[j] == `.SH "NAME"` {
			// whatis wants "name \- what it is" (lintian's bad-whatis-entry).
			lines[j+1] = `backupwatch \- alert when restic backups stop protecting a fleet`
			break
		}
	}
	th := fmt.Sprintf(".TH BACKUPWATCH 1 \"%s\" \"backupwatch %s\" \"User Commands\"", "2026-01-01", version)
	return []byte(strings.Join(append([]string{th}, lines[i:]...), "\n"))
}

func writeGzip(path string, b []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	zw.ModTime = time.Time{} // no time in the header: reproducible
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
