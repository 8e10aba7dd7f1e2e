package restoretest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/spool"
)

// TestPickOldestOnlyDeclared (issue 19): junk host names written into the
// repository (`restic backup --stdin --host spamN`, by anyone with its
// password) were never tested, so `--pick oldest` took them first while
// the real hosts waited. With the fleet declared, only its hosts are
// picked; with nothing of the fleet in the repository, the restore test
// fails, recorded, saying so.
func TestPickOldestOnlyDeclared(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		t.Fatalf("restic is not installed: run `make deps` (installs Debian's restic): %v", err)
	}
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := append(os.Environ(), "RESTIC_PASSWORD=right-password-value", "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
	restic := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command("restic", append(args, "-q", "--repo", repo)...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v: %s", args, err, out)
		}
	}
	restic("", "init")
	for _, h := range []string{"db", "spam1", "spam2"} {
		restic("data of "+h+"\n", "backup", "--stdin", "--host", h)
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
	run := func(declared ...string) Report {
		t.Helper()
		test := newPickTest(repo, env, records, checks, dlv)
		test.Declared = declared
		rep, err := test.Run(context.Background())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		return rep
	}
	for range 2 { // twice: the junk, never tested, would come first each time
		if rep := run("db", "web"); rep.Failed != nil || rep.Test.HostTested != "db" {
			t.Errorf("with db and web declared: tested %q (failed %v), want db", rep.Test.HostTested, rep.Failed)
		}
	}
	rep := run("web")
	if rep.Failed == nil || !strings.Contains(rep.Test.Notes, "no host of the fleet") {
		t.Errorf("with only web declared: %+v, want a failed test saying no host of the fleet is there", rep.Test)
	}
	if rep := run(); rep.Failed != nil || !strings.HasPrefix(rep.Test.HostTested, "spam") {
		t.Errorf("with no fleet declared: tested %q, want one never tested (spam1 or spam2), as before", rep.Test.HostTested)
	}
}

func newPickTest(repo string, env []string, records *localstore.Store, checks func(bool) (Store, error), dlv *deliver.Deliverer) *Test {
	return &Test{
		Repo: restic.Repo{Repository: repo, Env: env}, Snapshot: "latest", PickOldest: true,
		Records: records, Checks: checks, Deliver: func(ctx context.Context, e spool.Entry) (deliver.Delivery, error) {
			return dlv.Deliver(ctx, e, retryOnce)
		},
	}
}
