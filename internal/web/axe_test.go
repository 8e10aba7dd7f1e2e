package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/repocheck"
	"github.com/golemtrust/backupwatch/internal/status"
)

// axeDir holds the test's node side: axe-core and puppeteer-core, pinned
// in its package-lock.json, installed by `npm ci` there (make deps does).
const axeDir = "testdata/axe"

// TestPageAccessible runs axe-core's WCAG 2 A and AA rules in Debian's
// Chromium on the page of a realistic fleet (paused and flapping hosts
// included) and on the host pages of its flapping and its paused host:
// zero violations (issue 24: the schedule line on a red tile was #555 on
// #c62828, 1.33:1). With BACKUPWATCH_PAGE_SCREENSHOT=file.png it also
// saves a picture of the status page.
func TestPageAccessible(t *testing.T) {
	snap := realisticFleet(t)
	repos := realisticRepos(t) // the repositories' table and restore points too
	now := func() time.Time { return testNow }
	mux := http.NewServeMux()
	mux.Handle("/", New(Options{
		Snapshot:     func() *fleet.Snapshot { return snap },
		Repositories: func() []repocheck.Record { return repos },
		Store:        "local store /var/lib/backupwatch/records",
		Now:          now,

		AlertingPath: everyAlertingState,
	}))
	mux.Handle(HostPath, NewHost(HostOptions{Source: realisticStore(t), Snapshot: func() *fleet.Snapshot { return snap }, Now: now}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	shot := os.Getenv("BACKUPWATCH_PAGE_SCREENSHOT")
	if shot != "" {
		var err error
		if shot, err = filepath.Abs(shot); err != nil {
			t.Fatal(err)
		}
	}
	axe(t, shot, srv.URL, "/", "/host/ci", "/host/nas", "/host/db/image")
}

// realisticStore holds the stored histories behind realisticFleet's host
// pages: ci alternating failed and succeeded every hour (flapping), nas
// daily successes then two failures (paused), db's weekly image job.
func realisticStore(t *testing.T) *localstore.Store {
	t.Helper()
	s, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	runs := func(host, job string, n int, every time.Duration, last time.Time, failed func(i int) bool) {
		var doc map[string]any
		for i := range n {
			code, d := int64(0), 300+float64(i*41%200)
			res := status.Result{Host: host, Job: job, Outcome: status.Success, At: last.Add(-time.Duration(n-1-i) * every), ExitCode: &code, Duration: &d,
				Extra: map[string]string{status.FieldFilesProcessed: "48213", status.FieldBytesProcessed: "7340032000"}}
			if failed(i) {
				code = 1
				res.Outcome, res.Message = status.Failed, "Fatal: unable to create lock in backend: repository is already locked by PID 991 on nas"
			}
			doc, _ = status.Apply(doc, res)
		}
		if err := s.Update(context.Background(), status.Key(host, job), func(map[string]any) (map[string]any, bool, error) { return doc, true, nil }); err != nil {
			t.Fatal(err)
		}
	}
	runs("ci", "", status.HistoryLen, time.Hour, ago(10*time.Minute), func(i int) bool { return i%2 == 1 })
	runs("nas", "", 12, 24*time.Hour, ago(2*time.Hour), func(i int) bool { return i >= 10 })
	runs("db", "image", 5, 7*24*time.Hour, ago(3*24*time.Hour), func(int) bool { return false })
	return s
}

// axe runs axe-core's wcag2a and wcag2aa rules on each of paths under
// base, in one Chromium, and fails the test for each violation; shot, when
// not "", is where the first page's screenshot goes.
func axe(t *testing.T, shot, base string, paths ...string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (%v): run `make deps` (installs Debian's nodejs and npm, then `npm ci` in internal/web/%s)", err, axeDir)
	}
	for _, m := range []string{"axe-core", "puppeteer-core"} {
		if _, err := os.Stat(filepath.Join(axeDir, "node_modules", m, "package.json")); err != nil {
			t.Fatalf("%s is not installed for the accessibility test: run `npm ci` in internal/web/%s (or `make deps`)", m, axeDir)
		}
	}
	args := []string{"axe.js", chromium(t), shot}
	for _, p := range paths {
		args = append(args, base+p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = axeDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node axe.js: %v\n%s", err, stderr.String())
	}
	var res struct {
		Pages []struct {
			URL        string
			Violations []struct {
				ID, Impact, Help string
				Nodes            []struct{ Target, Summary string }
			}
			Passes int
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res.Pages) != len(paths) {
		t.Fatalf("node axe.js printed no result for each of %d pages (%v):\n%s\n%s", len(paths), err, stdout.String(), stderr.String())
	}
	for _, pg := range res.Pages {
		path := strings.TrimPrefix(pg.URL, base)
		if pg.Passes == 0 {
			t.Errorf("%s: axe passed no rule at all: did it run on the page?", path)
		}
		for _, v := range pg.Violations {
			var where []string
			for _, n := range v.Nodes {
				where = append(where, "  "+n.Target+": "+strings.ReplaceAll(n.Summary, "\n", " "))
			}
			t.Errorf("%s: axe %s (%s): %s, %d elements:\n%s", path, v.ID, v.Impact, v.Help, len(v.Nodes), strings.Join(where, "\n"))
		}
	}
}
