package restoretest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

func TestVerify(t *testing.T) {
	tree := func(t *testing.T, files map[string]string, dirs ...string) string {
		dir := t.TempDir()
		for _, d := range dirs {
			os.MkdirAll(filepath.Join(dir, d), 0o755)
		}
		for name, body := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
			os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
		}
		return dir
	}
	tests := []struct {
		name       string
		files      map[string]string
		dirs       []string
		expect     []string
		allowEmpty bool
		n          int
		err        string
	}{
		{"files", map[string]string{"srv/db/base.sql": "x", "srv/db/empty.log": ""}, nil, []string{"/srv/db", "/srv/db/base.sql"}, false, 2, ""},
		{"nothing at all", nil, nil, nil, false, 0, "nothing was restored"},
		{"directories only: an unmounted file system", nil, []string{"mnt/data"}, nil, false, 0, "--allow-empty"},
		{"directories only, allowed", nil, []string{"mnt/data"}, nil, true, 0, ""},
		{"expected path missing", map[string]string{"a": "x"}, nil, []string{"/b"}, false, 1, "/b is missing"},
		{"expected file empty", map[string]string{"a": ""}, nil, []string{"/a"}, false, 1, "/a is an empty file"},
		{"expected directory empty", map[string]string{"a": "x"}, []string{"d"}, []string{"/d"}, false, 1, "/d is an empty directory"},
		{"allowed empty still checks expected paths", nil, []string{"d"}, []string{"/d"}, true, 0, "/d is an empty directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Verify(tree(t, tt.files, tt.dirs...), tt.expect, tt.allowEmpty)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Verify = %d, %v; want an error with %q", n, err, tt.err)
			}
			if n != tt.n {
				t.Errorf("Verify counted %d files, want %d", n, tt.n)
			}
		})
	}
}

func TestCheckExpectPath(t *testing.T) {
	for p, ok := range map[string]bool{"/var/lib/postgresql": true, "srv/db": true, "": false, "  ": false, "/srv/../etc": false, "..": false} {
		if err := CheckExpectPath(p); (err == nil) != ok {
			t.Errorf("CheckExpectPath(%q) = %v, want ok %v", p, err, ok)
		}
	}
}

func TestOldest(t *testing.T) {
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(host string, at time.Time) {
		rt := status.RestoreTest{LastTest: at, Result: status.Passed, HostTested: host}
		if err := st.Update(ctx, host, func(old map[string]any) (map[string]any, bool, error) {
			doc, changed := status.ApplyRestoreTest(old, rt)
			return doc, changed, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Truncate(time.Second)
	put("web", now.Add(-48*time.Hour))
	put("db", now.Add(-24*time.Hour))
	for _, tt := range []struct {
		hosts []string
		want  string
	}{
		{[]string{"db", "web", "mail", "cache"}, "cache"}, // never tested, first by name
		{[]string{"db", "web"}, "web"},                    // tested longest ago
		{[]string{"db"}, "db"},
	} {
		if got, err := Oldest(ctx, st, tt.hosts); err != nil || got != tt.want {
			t.Errorf("Oldest(%v) = %q, %v; want %q", tt.hosts, got, err, tt.want)
		}
	}
	if _, err := Oldest(ctx, st, nil); err == nil {
		t.Error("Oldest of no host: no error")
	}
}

// A repository --pick oldest cannot open is a failed test, recorded for
// the fleet, with the reason and no password.
func TestRunPickOldestRecordsAnUnreadableRepository(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		t.Fatalf("restic is not installed: run `make deps` (installs Debian's restic): %v", err)
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := append(os.Environ(), "RESTIC_PASSWORD=right-password-value", "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
	cmd := exec.Command("restic", "init", "-q", "--repo", repo)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic init: %v: %s", err, out)
	}
	records, err := localstore.Open(filepath.Join(dir, "records"))
	if err != nil {
		t.Fatal(err)
	}
	dlv, err := deliver.New(deliver.Options{Store: records})
	if err != nil {
		t.Fatal(err)
	}
	checks := func(bool) (Store, error) { return localstore.Open(filepath.Join(dir, "checks")) }
	for name, env := range map[string][]string{
		"empty repository": env,
		"wrong password":   append(append([]string{}, env...), "RESTIC_PASSWORD=wrong-password-value"),
	} {
		t.Run(name, func(t *testing.T) {
			test := &Test{
				Repo: restic.Repo{Repository: repo, Env: env}, Snapshot: "latest", PickOldest: true,
				Records: records, Checks: checks, Deliver: func(ctx context.Context, e spool.Entry) (deliver.Delivery, error) {
					return dlv.Deliver(ctx, e, retryOnce)
				},
			}
			rep, err := test.Run(context.Background())
			if err != nil || rep.Failed == nil || !strings.Contains(rep.Test.Notes, "--pick oldest") {
				t.Fatalf("Run = %+v, %v; want a failed test saying --pick oldest failed", rep, err)
			}
			doc, err := records.Get(context.Background(), status.RestoreTestKey)
			if err != nil {
				t.Fatalf("the fleet's record: %v", err)
			}
			if got := status.ParseRestoreTest(doc); got.Result != status.Failed || !strings.Contains(got.Notes, "--pick oldest") || strings.Contains(got.Notes, "password-value") {
				t.Errorf("recorded %+v, want failed with the reason and no password", got)
			}
		})
	}
}

var retryOnce = spool.Retry{Attempts: 1}
