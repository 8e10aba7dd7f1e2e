// Package parts finds the real programs the tests run, in the two
// generations users have: "the Debian one" (Debian stable's package,
// installed by `make deps` with apt-get) and "the current one" (the
// upstream release pinned in scripts/install-deps.sh, built by `make deps`
// with go install into tools/bin/). A missing part fails the test with how
// to get it; it is never skipped.
package parts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Generations of a part.
const (
	Debian  = "debian"
	Current = "current"
)

// Part is one generation of a program.
type Part struct {
	Tool       string // as named upstream: restic, promtool, alertmanager, amtool, prometheus
	Generation string // Debian or Current
	Path       string // absolute path of the binary
	Version    string // the pinned version for Current (from its build stamp); "" for Debian
}

// String names the part for subtest names: "restic-debian", "restic-current".
func (p Part) String() string { return p.Tool + "-" + p.Generation }

// debianNames are the Debian binaries whose names differ from upstream's.
var debianNames = map[string]string{
	"alertmanager":  "prometheus-alertmanager",
	"node_exporter": "prometheus-node-exporter",
}

// DebianPath is the Debian package's binary of tool, or the test fails.
func DebianPath(t testing.TB, tool string) string {
	t.Helper()
	return DebianPart(t, tool).Path
}

// CurrentPath is the current upstream release of tool in tools/bin/, or the
// test fails.
func CurrentPath(t testing.TB, tool string) string {
	t.Helper()
	return CurrentPart(t, tool).Path
}

// DebianPart is the Debian generation of tool, or the test fails.
func DebianPart(t testing.TB, tool string) Part {
	t.Helper()
	name := tool
	if n, ok := debianNames[tool]; ok {
		name = n
	}
	// Debian's own directories, never a PATH entry that may hold tools/bin.
	for _, dir := range []string{"/usr/bin", "/usr/sbin", "/bin", "/sbin"} {
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return Part{Tool: tool, Generation: Debian, Path: p}
		}
	}
	t.Fatalf("%s (Debian's %s) is not installed: run `make deps` (apt-get installs Debian's packages)", tool, name)
	return Part{}
}

// CurrentPart is the current generation of tool, or the test fails. Its
// directory is $BACKUPWATCH_TOOLS_BIN if set, else tools/bin in the
// repository.
func CurrentPart(t testing.TB, tool string) Part {
	t.Helper()
	dir, err := ToolsBin()
	if err != nil {
		t.Fatalf("current %s: %v", tool, err)
	}
	p := filepath.Join(dir, tool)
	if !isExecutable(p) {
		t.Fatalf("the current %s is not built (%s missing): run `make deps` (go install of the version pinned in scripts/install-deps.sh into tools/bin/)", tool, p)
	}
	return Part{Tool: tool, Generation: Current, Path: p, Version: stampedVersion(dir, tool)}
}

// Both is the Debian and the current generation of tool, for a table test
// over both; the test fails if either is missing.
func Both(t testing.TB, tool string) []Part {
	t.Helper()
	return []Part{DebianPart(t, tool), CurrentPart(t, tool)}
}

// ToolsBin is the directory of the current generation: $BACKUPWATCH_TOOLS_BIN,
// or tools/bin under the repository the working directory is in.
func ToolsBin() (string, error) {
	if d := os.Getenv("BACKUPWATCH_TOOLS_BIN"); d != "" {
		return filepath.Abs(d)
	}
	root, ok := RepoRoot()
	if !ok {
		return "", errNoRepo
	}
	return filepath.Join(root, "tools", "bin"), nil
}

type repoError string

func (e repoError) Error() string { return string(e) }

const errNoRepo = repoError("no go.mod of " + module + " above the working directory: set BACKUPWATCH_TOOLS_BIN or run the tests in the repository")

const module = "github.com/golemtrust/backupwatch"

// stampedVersion reads the build stamp install-deps.sh leaves:
// tools/bin/.stamp/<tool>@<version>.
func stampedVersion(dir, tool string) string {
	m, _ := filepath.Glob(filepath.Join(dir, ".stamp", tool+"@*"))
	if len(m) != 1 {
		return ""
	}
	return strings.TrimPrefix(filepath.Base(m[0]), tool+"@")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return false
	}
	_, err = exec.LookPath(p)
	return err == nil
}

// RepoRoot walks up from the working directory to the directory whose
// go.mod declares the main module (where bin/ and tools/bin/ are).
func RepoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			for line := range strings.Lines(string(b)) {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == module {
					return dir, true
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
