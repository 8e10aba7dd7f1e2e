package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/repocheck"
)

// axeDir holds the test's node side: axe-core and puppeteer-core, pinned
// in its package-lock.json, installed by `npm ci` there (make deps does).
const axeDir = "testdata/axe"

// TestPageAccessible runs axe-core's WCAG 2 A and AA rules on the page of
// a realistic fleet in Debian's Chromium: zero violations (issue 24: the
// schedule line on a red tile was #555 on #c62828, 1.33:1). With
// BACKUPWATCH_PAGE_SCREENSHOT=file.png it also saves a picture of the page.
func TestPageAccessible(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): run `make deps` (installs Debian's nodejs and npm, then `npm ci` in internal/web/%s)", err, axeDir)
	}
	for _, m := range []string{"axe-core", "puppeteer-core"} {
		if _, err := os.Stat(filepath.Join(axeDir, "node_modules", m, "package.json")); err != nil {
			t.Fatalf("%s is not installed for the accessibility test: run `npm ci` in internal/web/%s (or `make deps`)", m, axeDir)
		}
	}
	browser := chromium(t)
	snap := realisticFleet(t)
	repos := realisticRepos(t) // the repositories' table and restore points too
	srv := httptest.NewServer(New(Options{
		Snapshot:     func() *fleet.Snapshot { return snap },
		Repositories: func() []repocheck.Record { return repos },
		Store:        "local store /var/lib/backupwatch/records",
		Now:          func() time.Time { return testNow },

		AlertingPath: everyAlertingState,
	}))
	defer srv.Close()

	shot := os.Getenv("BACKUPWATCH_PAGE_SCREENSHOT")
	if shot != "" {
		if shot, err = filepath.Abs(shot); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "axe.js", srv.URL+"/", browser, shot)
	cmd.Dir = axeDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node axe.js: %v\n%s", err, stderr.String())
	}
	var res struct {
		Violations []struct {
			ID, Impact, Help string
			Nodes            []struct{ Target, Summary string }
		}
		Passes int
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("node axe.js printed no result (%v):\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if res.Passes == 0 {
		t.Errorf("axe passed no rule at all: did it run on the page?")
	}
	for _, v := range res.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, "  "+n.Target+": "+strings.ReplaceAll(n.Summary, "\n", " "))
		}
		t.Errorf("axe %s (%s): %s, %d elements:\n%s", v.ID, v.Impact, v.Help, len(v.Nodes), strings.Join(where, "\n"))
	}
}
