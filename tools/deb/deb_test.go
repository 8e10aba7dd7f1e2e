package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestDebVersion(t *testing.T) {
	tests := []struct{ in, date, want string }{
		{"v1.2.0", "20261206", "1.2.0"},
		{"v1.2.0-3-gabc1234", "20261206", "1.2.0+3.gabc1234"},
		{"v1.2.0-3-gabc1234-dirty", "20261206", "1.2.0+3.gabc1234.dirty"},
		{"abc1234", "20261206", "0.0.0+git20261206.abc1234"},
		{"abc1234-dirty", "20261206", "0.0.0+git20261206.abc1234.dirty"},
		{"1c53c77", "20261206", "0.0.0+git20261206.1c53c77"},
		{"1c53c77-dirty", "20261206", "0.0.0+git20261206.1c53c77.dirty"},
		{"1c53c77", "", "0.0.0+git.1c53c77"},
		{"0.0.0~pkgtest", "", "0.0.0~pkgtest"},
		{"v1 2;rm", "", "1.2.rm"},
	}
	for _, tt := range tests {
		if got := debVersion(tt.in, tt.date); got != tt.want {
			t.Errorf("debVersion(%q, %q) = %q, want %q", tt.in, tt.date, got, tt.want)
		}
	}
}

// TestUntaggedSortsBelowReleases asks dpkg itself: a host that installed a
// development build must upgrade to any release, and to a later build.
func TestUntaggedSortsBelowReleases(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Fatal("dpkg is missing: apt-get install dpkg (make deps)")
	}
	lt := func(a, b string) {
		t.Helper()
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg says %s is not below %s", a, b)
		}
	}
	for _, hash := range []string{"9f00abc", "1c53c77", "abc1234", "0000000-dirty", "fffffff"} {
		dev := debVersion(hash, "20261206") + "-1"
		for _, rel := range []string{"0.0.1", "0.1.0", "1.0.0", "2.0.0", "v0.0.1-1-gabc1234"} {
			lt(dev, debVersion(rel, "")+"-1")
		}
		lt(dev, debVersion("1c53c77", "20261207")+"-1") // a later day's build
	}
}

// testVersion marks the package this test installs, so that one left
// installed by an interrupted run is recognised and purged, and never an
// operator's real installation.
const testVersion = "0.0.0~pkgtest"

// TestPackage builds the package with `make deb`, installs it with dpkg -i,
// checks what it installed (binary, units by systemd-analyze verify, user,
// /etc/default file a shell can source, shared files) and removes and
// purges it, leaving no file behind.
func TestPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatalf("the package test installs the package with dpkg -i and needs root: run `make test-deb` as root (CI does)")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-query", "systemd-analyze", "adduser", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: run `make deps` (Debian's dpkg, adduser, systemd)", tool)
		}
	}
	if v := installedVersion(t); v != "" {
		if !strings.HasPrefix(v, testVersion) {
			t.Fatalf("backupwatch %s is installed on this machine; this test would replace and purge it: remove it first (dpkg --purge backupwatch) or run the test elsewhere", v)
		}
		run(t, "dpkg", "--purge", "backupwatch") // left by an interrupted run of this test
	}
	if out, err := exec.Command("getent", "passwd", "backupwatch").Output(); err == nil {
		t.Fatalf("a user backupwatch exists without the package (%s); the test checks that purge removes the user it creates: remove it first (deluser --system backupwatch)", strings.TrimSpace(string(out)))
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "backupwatch")
	run(t, "make", "-C", "../..", "deb", "BIN="+bin, "VERSION="+testVersion, "DEB_DIR="+dir)
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb wrote %v, want one .deb in %s", debs, dir)
	}
	deb := debs[0]

	fields := run(t, "dpkg-deb", "--show", "--showformat=${Package} ${Version} ${Depends}\n", deb)
	if want := "backupwatch " + testVersion + "-1 adduser, libc6\n"; fields != want {
		t.Errorf("package fields = %q, want %q", fields, want)
	}

	wantFiles := []string{
		"/usr/bin/backupwatch",
		"/etc/default/backupwatch",
		"/etc/logrotate.d/restic-backup",
		"/lib/systemd/system/backupwatch.service",
		"/lib/systemd/system/backupwatch-textfile.service",
		"/lib/systemd/system/backupwatch-textfile.timer",
		"/lib/systemd/system/backupwatch-deadman.service",
		"/lib/systemd/system/restic-backup.service",
		"/lib/systemd/system/restic-backup.timer",
		"/usr/share/backupwatch/prometheus/backup.yml",
		"/usr/share/backupwatch/alertmanager/alertmanager.yml",
		"/usr/share/backupwatch/grafana/backupwatch.json",
		"/usr/share/backupwatch/grafana/provisioning/backupwatch.yml",
		"/usr/share/backupwatch/vault/backupwatch-exporter.hcl",
		"/usr/share/doc/backupwatch/copyright",
		"/usr/share/lintian/overrides/backupwatch",
		"/usr/share/doc/backupwatch/changelog.gz",
		"/usr/share/doc/backupwatch/README.md",
		"/usr/share/man/man1/backupwatch.1.gz",
		"/etc/backupwatch/config.yml",
		"/lib/systemd/system/backupwatch-repo-check.service",
		"/lib/systemd/system/backupwatch-repo-check.timer",
	}
	// What exists before the install stays after the purge (shared
	// directories such as /lib/systemd/system); nothing else may.
	before := map[string]bool{}
	for _, p := range listed(run(t, "dpkg-deb", "--contents", deb)) {
		if _, err := os.Lstat(p); err == nil {
			before[p] = true
		}
	}
	for _, p := range wantFiles {
		if before[p] {
			t.Fatalf("%s exists before the package is installed: this machine has another copy, the test cannot tell what the package removes", p)
		}
	}

	lintian(t, deb)

	t.Cleanup(func() { exec.Command("dpkg", "--purge", "backupwatch").Run() })
	run(t, "dpkg", "-i", deb)
	installed := strings.Fields(run(t, "dpkg-query", "-L", "backupwatch"))
	have := map[string]bool{}
	for _, p := range installed {
		have[p] = true
	}
	for _, p := range wantFiles {
		if !have[p] {
			t.Errorf("dpkg -L backupwatch lacks %s", p)
		}
	}
	for _, p := range installed {
		if strings.HasSuffix(p, ".go") || strings.Contains(p, "/testdata") {
			t.Errorf("package installs %s, a source or test file", p)
		}
	}
	if got := run(t, "dpkg-query", "--control-show", "backupwatch", "conffiles"); !strings.Contains(got, "/etc/default/backupwatch") || !strings.Contains(got, "/etc/logrotate.d/restic-backup") {
		t.Errorf("conffiles = %q, want /etc/default/backupwatch and /etc/logrotate.d/restic-backup", got)
	}

	if got := run(t, "/usr/bin/backupwatch", "--version"); !strings.Contains(got, testVersion) {
		t.Errorf("backupwatch --version = %q, want it to name %s", got, testVersion)
	}

	// The units run the packaged binary, and systemd finds no fault in them.
	units, _ := filepath.Glob("/lib/systemd/system/backupwatch*")
	units = append(units, "/lib/systemd/system/restic-backup.service", "/lib/systemd/system/restic-backup.timer")
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("/usr/local/bin/backupwatch")) {
			t.Errorf("%s runs /usr/local/bin/backupwatch, not the packaged /usr/bin/backupwatch", u)
		}
	}
	verify := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, units...)...)
	out, err := verify.CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze verify %v: %v\n%s", units, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "backupwatch") || strings.Contains(l, "restic-backup") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}

	// The system user, and its group.
	pw := strings.Split(strings.TrimSpace(run(t, "getent", "passwd", "backupwatch")), ":")
	if len(pw) != 7 || pw[6] != "/usr/sbin/nologin" || len(pw[2]) > 3 {
		t.Errorf("user backupwatch = %v, want a system user (uid < 1000) with shell /usr/sbin/nologin", pw)
	}
	run(t, "getent", "group", "backupwatch")

	// /etc/default/backupwatch: every setting is quoted or has no space, so
	// a shell sources it as systemd reads it.
	checkDefaultFile(t, "/etc/default/backupwatch")

	// The shared files are deploy/'s, unchanged.
	for _, p := range wantFiles {
		rel, ok := strings.CutPrefix(p, "/usr/share/backupwatch/")
		if !ok {
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("../../deploy", rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from deploy/%s", p, rel)
		}
	}

	// Installed again over itself (as an upgrade does): the maintainer
	// scripts cope with the user that exists.
	run(t, "dpkg", "-i", deb)
	if again := strings.Split(strings.TrimSpace(run(t, "getent", "passwd", "backupwatch")), ":"); strings.Join(again, ":") != strings.Join(pw, ":") {
		t.Errorf("after reinstalling, user backupwatch = %v, was %v", again, pw)
	}

	// The example config is a conffile the binary accepts.
	if got := run(t, "dpkg-query", "--control-show", "backupwatch", "conffiles"); !strings.Contains(got, "/etc/backupwatch/config.yml") {
		t.Errorf("conffiles = %q, want /etc/backupwatch/config.yml", got)
	}
	run(t, "/usr/bin/backupwatch", "check", "--config.file=/etc/backupwatch/config.yml")

	// The state and spool directories, with their owner and mode: the
	// records serve (user backupwatch) reads, the spool only root's runs use.
	for _, d := range []struct{ path, owner, mode string }{
		{"/var/lib/backupwatch", "root:backupwatch", "750"},
		{"/var/spool/backupwatch", "root:root", "700"},
	} {
		if got := strings.TrimSpace(run(t, "stat", "-c", "%U:%G %a", d.path)); got != d.owner+" "+d.mode {
			t.Errorf("%s = %s, want %s %s", d.path, got, d.owner, d.mode)
		}
	}

	// Every shipped unit enabled, as an administrator might: removal
	// must stop and disable them all, and purge leave no link behind.
	var shipped []string
	for _, p := range installed {
		if u, ok := strings.CutPrefix(p, "/lib/systemd/system/"); ok && (strings.HasSuffix(u, ".service") || strings.HasSuffix(u, ".timer")) {
			shipped = append(shipped, u)
		}
	}
	run(t, "systemctl", append([]string{"enable"}, shipped...)...)
	if links := unitLinks(t); len(links) == 0 {
		t.Fatalf("systemctl enable %v made no link in /etc/systemd/system", shipped)
	}

	// Removed: the files go, the conffiles and the user stay (Debian's way).
	run(t, "dpkg", "-r", "backupwatch")
	if links := unitLinks(t); len(links) > 0 {
		t.Errorf("after dpkg -r: links to the package's units left: %v", links)
	}
	for _, p := range []string{"/usr/bin/backupwatch", "/lib/systemd/system/backupwatch.service", "/usr/share/backupwatch"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("after dpkg -r: %s still there", p)
		}
	}
	if _, err := os.Stat("/etc/default/backupwatch"); err != nil {
		t.Errorf("after dpkg -r: conffile /etc/default/backupwatch gone (%v), want it kept until purge", err)
	}
	// Purged: nothing of it is left, nor its user.
	run(t, "dpkg", "--purge", "backupwatch")
	for _, p := range installed {
		if before[p] || p == "/." {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("after dpkg --purge: %s still there", p)
		}
	}
	if v := installedVersion(t); v != "" {
		t.Errorf("after dpkg --purge: dpkg still knows backupwatch %s", v)
	}
	for _, db := range []string{"passwd", "group"} {
		if err := exec.Command("getent", db, "backupwatch").Run(); err == nil {
			t.Errorf("after dpkg --purge: %s backupwatch still there", db)
		}
	}
}

// lintianAccepted are the lintian tags this package accepts, and why.
var lintianAccepted = map[string]string{
	// Go's linker decides the binary's layout; Debian's golang packages
	// carry the same two warnings unless built with -buildmode=pie.
	"hardening-no-pie":   "a Go binary (go build, not Debian's C flags)",
	"hardening-no-relro": "a Go binary (go build, not Debian's C flags)",
	// The package is not uploaded to Debian: there is no ITP bug to close.
	"initial-upload-closes-no-bugs": "built by tools/deb, not uploaded to Debian",
	// prerm calls systemctl after deb-systemd-helper, whose disable undoes
	// only what it enabled itself: an administrator's `systemctl enable`
	// of a unit the package ships is undone by systemctl alone.
	"maintainer-script-calls-systemctl": "undoes an administrator's own enable (prerm)",
}

// lintian checks the package with Debian's checker: no error, and every
// warning one that lintianAccepted explains.
func lintian(t *testing.T, deb string) {
	t.Helper()
	if _, err := exec.LookPath("lintian"); err != nil {
		t.Fatal("lintian is missing: apt-get install lintian (make deps)")
	}
	out, _ := exec.Command("lintian", "--tag-display-limit", "0", deb).CombinedOutput()
	t.Logf("lintian:\n%s", out)
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		tag := f[2]
		switch {
		case strings.HasPrefix(l, "E:"):
			t.Errorf("lintian error: %s", l)
		case strings.HasPrefix(l, "W:"):
			if _, ok := lintianAccepted[tag]; !ok {
				t.Errorf("lintian warning not accepted (lintianAccepted says why each is): %s", l)
			}
		}
	}
}

// unitLinks lists what in /etc/systemd/system names one of the package's
// units (backupwatch*, restic-backup*).
func unitLinks(t *testing.T) []string {
	t.Helper()
	var links []string
	filepath.WalkDir("/etc/systemd/system", func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasPrefix(d.Name(), "backupwatch") || strings.HasPrefix(d.Name(), "restic-backup")) {
			links = append(links, p)
		}
		return nil
	})
	return links
}

// setting is a line of a file both systemd and a shell read: a name, then
// a double-quoted value without $ or backquotes, or a bare one without
// anything a shell would split or expand.
var setting = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=("[^"$` + "`" + `\\]*"|[A-Za-z0-9_./:=,@%+-]*)$`)

func checkDefaultFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			// A commented example, uncommented, must be as safe.
			l = strings.TrimPrefix(l, "#")
			if !strings.Contains(l, "=") || strings.Contains(l, " ") && !strings.Contains(l, `="`) {
				continue
			}
		}
		if !setting.MatchString(l) {
			t.Errorf("%s:%d: %q is not NAME=\"value\" or NAME=value-without-spaces: a shell sourcing it would break", path, n, l)
		}
	}
	// And a shell that sources it, strictly, gets the values systemd would.
	out, err := exec.Command("sh", "-euc", `. "$1"; printf '%s|%s' "$BACKUPWATCH_SERVE_ARGS" "$BACKUPWATCH_TEXTFILE_ARGS"`, "sh", path).CombinedOutput()
	if err != nil || string(out) != "|" {
		t.Errorf("sh sourcing %s: %v: %q, want the two empty settings", path, err, out)
	}
}

func installedVersion(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "--show", "--showformat=${db:Status-Status} ${Version}", "backupwatch").Output()
	if err != nil {
		return "" // not known to dpkg
	}
	st, v, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if st == "not-installed" {
		return ""
	}
	return v
}

// listed turns `dpkg-deb --contents` lines into absolute paths.
func listed(contents string) []string {
	var paths []string
	for _, l := range strings.Split(contents, "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		if p != "" {
			paths = append(paths, p)
		}
	}
	return paths
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}
