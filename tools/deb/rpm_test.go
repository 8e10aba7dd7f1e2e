package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRPMScripts builds the .rpm and reads it back with rpm: its scripts
// are rpm's own (%post, %preun, %postun), and %preun, run as rpm runs it
// on erase ($1 = 0) with rpm's list of the package's files, stops and
// disables every unit the package ships, as the .deb's prerm does; on an
// upgrade ($1 = 1) it touches none. systemctl is a recorder here: the
// .deb's test (TestPackage) checks the links on a real system.
func TestRPMScripts(t *testing.T) {
	rpmBin, err := exec.LookPath("rpm")
	if err != nil {
		t.Fatal("rpm not found: run `make deps` (Debian's rpm)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "backupwatch")
	run(t, "go", "build", "-C", "../..", "-o", bin, "./cmd/backupwatch")
	pkg, err := build(options{root: "../..", binary: bin, version: testVersion, date: "20260101", arch: "amd64", out: dir, format: "rpm"})
	if err != nil {
		t.Fatal(err)
	}
	scripts := run(t, rpmBin, "-qp", "--scripts", pkg)
	for _, want := range []string{
		"postinstall scriptlet", "useradd --system", "install -d -o root -g backupwatch -m 0750 /var/lib/backupwatch",
		"preuninstall scriptlet", "systemctl --no-reload disable",
		"postuninstall scriptlet", "systemctl daemon-reload",
	} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm -qp --scripts lacks %q:\n%s", want, scripts)
		}
	}
	if strings.Contains(scripts, "dpkg") || strings.Contains(scripts, "= remove") {
		t.Errorf("the rpm's scripts are Debian's:\n%s", scripts)
	}

	var shipped []string
	for _, f := range strings.Fields(run(t, rpmBin, "-qlp", pkg)) {
		if strings.HasPrefix(f, unitDir+"/") && (strings.HasSuffix(f, ".service") || strings.HasSuffix(f, ".timer")) {
			shipped = append(shipped, filepath.Base(f))
		}
	}
	if len(shipped) < 8 {
		t.Fatalf("the rpm ships units %v, want every one of deploy/systemd", shipped)
	}
	// rpm -ql of the installed package is rpm -qlp of the file here;
	// systemctl writes down what it was asked.
	stubs := t.TempDir()
	calls := filepath.Join(stubs, "calls")
	os.WriteFile(filepath.Join(stubs, "rpm"), []byte("#!/bin/sh\n[ \"$1 $2\" = \"-ql backupwatch\" ] || exit 1\nexec "+rpmBin+" -qlp '"+pkg+"'\n"), 0o755)
	os.WriteFile(filepath.Join(stubs, "systemctl"), []byte("#!/bin/sh\necho \"$*\" >> '"+calls+"'\n"), 0o755)
	for _, tc := range []struct {
		arg      string
		disables bool
	}{{"1", false}, {"0", true}} {
		os.Remove(calls)
		cmd := exec.Command("sh", "scripts/rpm/preun", tc.arg)
		cmd.Env = append(os.Environ(), "PATH="+stubs+":/usr/bin:/bin")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("preun %s: %v: %s", tc.arg, err, out)
		}
		got, _ := os.ReadFile(calls)
		if !tc.disables {
			if len(got) > 0 {
				t.Errorf("preun 1 (an upgrade) called systemctl %s", got)
			}
			continue
		}
		fields := strings.Fields(string(got))
		if !slices.Contains(fields, "disable") || !slices.Contains(fields, "--no-reload") {
			t.Errorf("preun 0 called systemctl %q, want --no-reload disable", got)
		}
		for _, u := range shipped {
			if !slices.Contains(fields, u) {
				t.Errorf("preun 0 leaves %s enabled: systemctl %s", u, got)
			}
		}
	}
}
