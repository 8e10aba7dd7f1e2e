package docs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// floors are the floors of architecture.md, top to bottom, each with its
// packages (module-relative). A package imports only from its own floor or
// one below. To place a new package, add it here and to the page's table:
// TestFloorsMatchPage keeps the two the same. A package listed here that
// does not exist (yet) is allowed, so the floors can name what is coming.
var floors = []struct {
	name     string
	packages []string
}{
	{"6 programs", []string{"cmd/backupwatch", "tools/bench", "e2e", "docs", "internal/histories"}},
	{"5 faces", []string{"internal/web", "internal/preflight", "internal/deadman", "internal/statusview", "internal/nagios", "internal/report", "internal/exporter"}},
	{"4 jobs and the exporter", []string{"internal/backuprun", "internal/restoretest", "internal/collector"}},
	{"3 a record's paths", []string{"internal/deliver", "internal/fleet", "internal/repocheck", "internal/pause"}},
	{"2 stores and outside formats", []string{"internal/vaultkv", "internal/localstore", "internal/spool", "internal/config", "internal/restic", "internal/nudge", "internal/ping", "internal/heartbeat"}},
	{"1 the record", []string{"internal/status"}},
	{"0 foundations", []string{"internal/atomicfile", "internal/lockfile", "internal/fileowner", "internal/proctree", "internal/inflight", "internal/schedule", "internal/httpserve", "deploy"}},
	{testParts, []string{"internal/parts", "internal/parts/amconfig", "internal/vaulttest"}},
}

// testParts is the floor only test code may import; its packages import
// each other and the floors below the programs freely.
const testParts = "tests' parts"

const module = "github.com/golemtrust/backupwatch"

// floorOf maps a package to its floor's height (0 the lowest; the tests'
// parts are -1, beside the floors rather than on them).
func floorOf() map[string]int {
	m := map[string]int{}
	for i, f := range floors {
		h := len(floors) - 2 - i
		if f.name == testParts {
			h = -1
		}
		for _, p := range f.packages {
			m[p] = h
		}
	}
	return m
}

// TestFloorsMatchPage: the table of architecture.md names the same floors,
// in the same order, with the same packages, as floors.
func TestFloorsMatchPage(t *testing.T) {
	b, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| ([^|]+?) \\| ([^|]+?) \\|")
	pkg := regexp.MustCompile("`([^`]+)`")
	var got []string
	inTable := false
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "| Floor |") {
			inTable = true
			continue
		}
		if !inTable || strings.HasPrefix(line, "|---") {
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			break
		}
		var ps []string
		for _, p := range pkg.FindAllStringSubmatch(m[2], -1) {
			ps = append(ps, p[1])
		}
		got = append(got, m[1]+": "+strings.Join(ps, " "))
	}
	var want []string
	for _, f := range floors {
		want = append(want, f.name+": "+strings.Join(f.packages, " "))
	}
	if !slices.Equal(got, want) {
		t.Errorf("architecture.md's floors table and floors in layers_test.go differ: change both together\npage:\n\t%s\ntest:\n\t%s",
			strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// listed is what go list says of one package.
type listed struct {
	ImportPath string
	Name       string
	Imports    []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// TestLayers: every package of the module stands on a floor, no package
// imports cmd/ or a higher floor, no non-test code imports the tests'
// parts, and the imports form no cycle.
func TestLayers(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-deps", "-json", "./...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.String())
	}
	graph := map[string][]string{} // module-relative, imports within the module only
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("read go list's output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		name := rel(p.ImportPath)
		graph[name] = nil
		for _, imp := range p.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				graph[name] = append(graph[name], rel(imp))
			}
		}
	}
	if len(graph) < 10 {
		t.Fatalf("go list found %d packages of %s: %v", len(graph), module, graph)
	}
	for _, problem := range layering(graph) {
		t.Error(problem)
	}
}

// layering returns what is wrong with graph (module-relative packages and
// their imports within the module) against floors.
func layering(graph map[string][]string) []string {
	var problems []string
	floor := floorOf()
	for _, p := range slices.Sorted(maps.Keys(graph)) {
		h, ok := floor[p]
		if !ok {
			problems = append(problems, p+" stands on no floor: add it to the floors table of docs/architecture.md (on the lowest floor that holds what it imports) and to floors in docs/layers_test.go")
			continue
		}
		for _, imp := range graph[p] {
			hi, placed := floor[imp]
			switch {
			case strings.HasPrefix(imp, "cmd/"):
				problems = append(problems, p+" imports "+imp+": nothing imports cmd/; move what it needs into internal/")
			case !placed:
				// Reported as a package of its own.
			case hi == -1 && h != -1:
				problems = append(problems, p+" imports "+imp+", one of the tests' parts: only test code may")
			case h != -1 && hi > h:
				problems = append(problems, fmt.Sprintf("%s (floor %q) imports %s (floor %q), a higher floor: see docs/architecture.md", p, floorName(h), imp, floorName(hi)))
			}
		}
	}
	if c := cycle(graph); c != nil {
		problems = append(problems, "import cycle: "+strings.Join(c, " -> "))
	}
	return problems
}

func floorName(h int) string { return floors[len(floors)-2-h].name }

func rel(importPath string) string {
	if importPath == module {
		return "."
	}
	return strings.TrimPrefix(importPath, module+"/")
}

// cycle returns one import cycle of graph (its first package repeated at
// the end), or nil.
func cycle(graph map[string][]string) []string {
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(p string) []string
	visit = func(p string) []string {
		switch state[p] {
		case open:
			i := slices.Index(path, p)
			return append(slices.Clone(path[i:]), p)
		case done:
			return nil
		}
		state[p] = open
		path = append(path, p)
		for _, imp := range graph[p] {
			if c := visit(imp); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[p] = done
		return nil
	}
	for _, p := range slices.Sorted(maps.Keys(graph)) {
		if c := visit(p); c != nil {
			return c
		}
	}
	return nil
}

// TestCycleFinds: cycle finds a cycle, and none where there is none.
func TestCycleFinds(t *testing.T) {
	if c := cycle(map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}); strings.Join(c, " ") != "a b c a" {
		t.Errorf("cycle = %v, want a b c a", c)
	}
	if c := cycle(map[string][]string{"a": {"b", "c"}, "b": {"c"}, "c": nil}); c != nil {
		t.Errorf("cycle of a diamond = %v, want none", c)
	}
}

// TestLayeringFinds: each kind of wrong import is reported, and a right
// graph is not.
func TestLayeringFinds(t *testing.T) {
	tests := []struct {
		name  string
		graph map[string][]string
		want  string // in the one problem expected; "" for none
	}{
		{"right", map[string][]string{"cmd/backupwatch": {"internal/web", "deploy"}, "internal/web": {"internal/collector", "internal/status"}, "internal/status": {"internal/schedule"}}, ""},
		{"same floor", map[string][]string{"internal/restoretest": {"internal/backuprun"}}, ""},
		{"tests' parts among themselves", map[string][]string{"internal/vaulttest": {"internal/parts"}}, ""},
		{"upwards", map[string][]string{"internal/status": {"internal/web"}}, `internal/status (floor "1 the record") imports internal/web (floor "5 faces"), a higher floor`},
		{"cmd", map[string][]string{"internal/web": {"cmd/backupwatch"}}, "internal/web imports cmd/backupwatch: nothing imports cmd/"},
		{"unplaced", map[string][]string{"internal/newthing": {"internal/status"}}, "internal/newthing stands on no floor: add it to the floors table of docs/architecture.md"},
		{"a tests' part in code", map[string][]string{"internal/fleet": {"internal/vaulttest"}}, "only test code may"},
		{"cycle", map[string][]string{"internal/deliver": {"internal/spool"}, "internal/spool": {"internal/deliver"}}, "import cycle: internal/deliver -> internal/spool -> internal/deliver"},
	}
	for _, tt := range tests {
		got := layering(tt.graph)
		if tt.want == "" {
			if len(got) != 0 {
				t.Errorf("%s: got %q, want no problem", tt.name, got)
			}
			continue
		}
		if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tt.want) }) {
			t.Errorf("%s: got %q, want a problem with %q", tt.name, got, tt.want)
		}
	}
}
