package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// sequentialTests may run sequentially: they start nothing and take
// microseconds (TestFailureLogs sets an environment variable, which a
// parallel test may not).
var sequentialTests = map[string]bool{"TestFailureLogs": true, "TestWithoutStaleEchoes": true}

// TestEveryScenarioRunsInParallel: every other test of this package calls
// t.Parallel() (or onEachGeneration, which does) in its own body. Go runs a
// sequential test alone, before it releases any parallel one: one scenario
// without t.Parallel() (TestInboxStorm, 6 minutes) held the suite at one
// stack of the harness's six for its whole length.
func TestEveryScenarioRunsInParallel(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Name.Name == "TestMain" || fn.Body == nil {
				continue
			}
			seen++
			if sequentialTests[fn.Name.Name] {
				continue
			}
			if !callsParallel(fn.Body) {
				t.Errorf("%s (%s): calls neither t.Parallel() nor onEachGeneration in its body, so every parallel scenario waits for it", fn.Name.Name, fset.Position(fn.Pos()))
			}
		}
	}
	if seen < 10 {
		t.Fatalf("found %d tests in %v: the test reads the wrong files", seen, files)
	}
}

// callsParallel says whether body's own statements (not a closure's, which
// may be a subtest's) call t.Parallel() or onEachGeneration.
func callsParallel(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.CallExpr:
			switch fun := n.Fun.(type) {
			case *ast.SelectorExpr:
				if x, ok := fun.X.(*ast.Ident); ok && x.Name == "t" && fun.Sel.Name == "Parallel" {
					found = true
				}
			case *ast.Ident:
				if fun.Name == "onEachGeneration" {
					found = true
				}
			}
		}
		return !found
	})
	return found
}
