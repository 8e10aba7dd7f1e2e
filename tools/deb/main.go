// Command deb builds backupwatch's Debian package with nfpm (`make deb`).
// It lives in its own module so that the packager never reaches the main
// module's go.sum.
//
// The package installs the binary as /usr/bin/backupwatch, the systemd units
// of deploy/systemd (their ExecStart rewritten from /usr/local/bin) in
// /lib/systemd/system, the logrotate file and /etc/default/backupwatch as
// conffiles, the rules, Alertmanager route and templates, dashboard and
// Vault policies under /usr/share/backupwatch/, and the `backupwatch`
// system user (created by postinst, removed on purge). No unit is enabled:
// each needs Vault's AppRole files first (docs/deployment.md).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the "rpm" packager
)

// options are what a package is built from.
type options struct {
	root    string // the repository: deploy/ and tools/deb/ are read from it
	binary  string // the backupwatch binary to package
	version string // as `git describe` prints it; made a Debian version
	date    string // the commit's date, YYYYMMDD: an untagged build's version names it
	arch    string // Debian architecture (GOARCH names match for amd64, arm64)
	out     string // directory the .deb is written to
	strip   bool   // strip the binary (a release's is built stripped)
	format  string // "deb" or "rpm"
}

func main() {
	var o options
	flag.StringVar(&o.root, "root", "../..", "the repository's top directory")
	flag.StringVar(&o.binary, "binary", "../../bin/backupwatch", "the backupwatch binary to package (`make build`)")
	flag.StringVar(&o.version, "version", "", "the version, as `git describe --tags --always --dirty` prints it")
	flag.StringVar(&o.date, "date", "", "the commit's date, YYYYMMDD (git log -1 --format=%cd --date=format:%Y%m%d)")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "the Debian architecture of the binary")
	flag.BoolVar(&o.strip, "strip", true, "strip the binary (binutils' strip, which knows only the host's architectures)")
	flag.StringVar(&o.format, "format", "deb", "deb, or rpm (the same files; rpm's own scripts: the system user and directories made, every unit stopped and disabled on erase)")
	flag.StringVar(&o.out, "out", "../../dist", "directory to write the .deb to")
	flag.Parse()
	path, err := build(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "deb:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// The installed binary. deploy/systemd names /usr/local/bin/backupwatch, where
// `make build` + install puts it; a package owns /usr/bin instead.
const (
	installedBinary = "/usr/bin/backupwatch"
	sourceBinary    = "/usr/local/bin/backupwatch"
	unitDir         = "/lib/systemd/system" // bookworm's packages still ship units there
	shareDir        = "/usr/share/backupwatch"
)

// build writes the package into o.out and returns its path.
func build(o options) (string, error) {
	if o.version == "" {
		return "", errors.New("no -version given")
	}
	if fi, err := os.Stat(o.binary); err != nil || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("binary %s missing or not executable: run `make build`", o.binary)
	}
	stage, err := os.MkdirTemp("", "backupwatch-deb-")
	if err != nil {
		return "", fmt.Errorf("stage the package: %w", err)
	}
	defer os.RemoveAll(stage)
	contents, err := stageContents(o, stage)
	if err != nil {
		return "", err
	}
	scripts := filepath.Join(o.root, "tools/deb/scripts")
	info := &nfpm.Info{
		Name:          "backupwatch",
		Arch:          o.arch,
		Platform:      "linux",
		Version:       debVersion(o.version, o.date),
		VersionSchema: "none",
		Release:       "1",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    "Golem Trust infrastructure <infrastructure@golemtrust.am>",
		Homepage:      "https://github.com/golemtrust/backupwatch",
		Description: "backup status from Vault for Prometheus\n" +
			"backupwatch records each host's restic backups in Vault (backupwatch run)\n" +
			"and exports them to Prometheus (backupwatch serve, or a textfile for\n" +
			"node_exporter), with alert rules, an Alertmanager route and a Grafana\n" +
			"dashboard in /usr/share/backupwatch.",
		// A fixed time makes the same inputs the same package.
		MTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Overridables: nfpm.Overridables{
			// libc6: `make build` links the binary dynamically (cgo's resolver).
			Depends:    []string{"adduser", "libc6"},
			Recommends: []string{"restic"},
			Suggests:   []string{"prometheus", "prometheus-alertmanager", "prometheus-node-exporter"},
			Contents:   contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(scripts, "postinst"),
				PreRemove:   filepath.Join(scripts, "prerm"),
				PostRemove:  filepath.Join(scripts, "postrm"),
			},
		},
	}
	info = nfpm.WithDefaults(info)
	if o.format == "" {
		o.format = "deb"
	}
	if o.format == "rpm" {
		// Debian's maintainer scripts ask dpkg-query and read $1 = remove;
		// rpm passes counts: its own scripts do the same (scripts/rpm).
		info.Scripts = nfpm.Scripts{
			PostInstall: filepath.Join(scripts, "rpm/post"),
			PreRemove:   filepath.Join(scripts, "rpm/preun"),
			PostRemove:  filepath.Join(scripts, "rpm/postun"),
		}
		info.Depends, info.Recommends, info.Suggests = nil, []string{"restic"}, nil // Debian's names
	}
	if err := nfpm.PrepareForPackager(info, o.format); err != nil {
		return "", fmt.Errorf("prepare the package: %w", err)
	}
	pkgr, err := nfpm.Get(o.format)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", fmt.Errorf("package directory: %w", err)
	}
	target := filepath.Join(o.out, pkgr.ConventionalFileName(info))
	tmp := target + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return "", fmt.Errorf("write the package: %w", err)
	}
	defer os.Remove(tmp)
	info.Target = target
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("build the package: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write the package: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return "", fmt.Errorf("write the package: %w", err)
	}
	return target, nil
}

// stageContents copies what needs changing into stage and lists every
// file of the package.
func stageContents(o options, stage string) (files.Contents, error) {
	deploy := filepath.Join(o.root, "deploy")
	file := func(src, dst string, mode fs.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode}}
	}
	conf := func(src, dst string) *files.Content {
		c := file(src, dst, 0o644)
		c.Type = files.TypeConfigNoReplace
		return c
	}
	// Stripped, as Debian ships binaries (lintian's unstripped-binary-or-object).
	stripped := o.binary
	if o.strip {
		stripped = filepath.Join(stage, "backupwatch")
		if out, err := exec.Command("strip", "--strip-unneeded", "-o", stripped, o.binary).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("strip %s (binutils): %w: %s", o.binary, err, out)
		}
	}
	// The binary is static (CGO_ENABLED=0, make build and the release):
	// lintian's statically-linked-binary is overridden, in the .deb only.
	overrides := file(filepath.Join(o.root, "tools/deb/lintian-overrides"), "/usr/share/lintian/overrides/backupwatch", 0o644)
	overrides.Packager = "deb"
	c := files.Contents{
		file(stripped, installedBinary, 0o755),
		overrides,
		conf(filepath.Join(o.root, "tools/deb/default"), "/etc/default/backupwatch"),
		conf(filepath.Join(deploy, "logrotate/restic-backup"), "/etc/logrotate.d/restic-backup"),
	}

	docs, err := stageDocs(o, stage)
	if err != nil {
		return nil, err
	}
	c = append(c, docs...)
	c = append(c,
		conf(filepath.Join(o.root, "tools/deb/doc/config.yml"), "/etc/backupwatch/config.yml"),
	)

	units, err := filepath.Glob(filepath.Join(deploy, "systemd", "*"))
	if err != nil || len(units) == 0 {
		return nil, fmt.Errorf("no systemd units in %s", filepath.Join(deploy, "systemd"))
	}
	if err := os.Mkdir(filepath.Join(stage, "systemd"), 0o755); err != nil {
		return nil, err
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			return nil, fmt.Errorf("read unit: %w", err)
		}
		b = bytes.ReplaceAll(b, []byte(sourceBinary), []byte(installedBinary))
		staged := filepath.Join(stage, "systemd", filepath.Base(u))
		if err := os.WriteFile(staged, b, 0o644); err != nil {
			return nil, fmt.Errorf("stage unit: %w", err)
		}
		c = append(c, file(staged, unitDir+"/"+filepath.Base(u), 0o644))
	}

	// Everything else of deploy/ (rules, route, templates, dashboard and its
	// provisioning, policies), as laid out there; not its Go code or tests.
	var shared []*files.Content
	err = filepath.WalkDir(deploy, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(deploy, p)
		if d.IsDir() {
			if d.Name() == "testdata" || rel == "systemd" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") || !d.Type().IsRegular() {
			return nil
		}
		shared = append(shared, file(p, shareDir+"/"+filepath.ToSlash(rel), 0o644))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deploy files: %w", err)
	}
	slices.SortFunc(shared, func(a, b *files.Content) int { return strings.Compare(a.Destination, b.Destination) })
	return append(c, shared...), nil
}

// untagged is what `git describe --always --dirty` prints without a tag:
// the commit's abbreviated hash, digits first or not.
var untagged = regexp.MustCompile(`^[0-9a-f]{7,40}(-dirty)?$`)

// debVersion makes a `git describe` version a Debian upstream version:
// v1.2.0-3-gabc1234-dirty is 1.2.0+3.gabc1234.dirty, a bare commit
// 1c53c77 of 2026-12-06 is 0.0.0+git20261206.1c53c77, below every release
// and every later day's build (a bare 1c53c77 sorts above 2.0.0 in dpkg).
func debVersion(v, date string) string {
	if untagged.MatchString(v) {
		return "0.0.0+git" + date + "." + strings.ReplaceAll(v, "-", ".")
	}
	v = strings.TrimPrefix(v, "v")
	v = strings.Map(func(r rune) rune {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)), strings.ContainsRune(".+~", r):
			return r
		}
		return '.'
	}, v)
	if v == "" || v[0] < '0' || v[0] > '9' {
		return "0.0.0+git." + v
	}
	if i := strings.IndexByte(v, '.'); i >= 0 {
		// The first separator git describe adds (-<n>-g<sha>) becomes a +.
		if j := strings.Index(v, ".g"); j > 0 && j > i {
			if k := strings.LastIndexByte(v[:j], '.'); k > 0 {
				v = v[:k] + "+" + v[k+1:]
			}
		}
	}
	return v
}
