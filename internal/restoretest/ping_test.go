package restoretest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golemtrust/backupwatch/internal/deliver"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/ping"
	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/spool"
)

// TestRunPings: a restore test of a repository restic cannot open pings
// start and fail, the fail with the notes recorded.
func TestRunPings(t *testing.T) {
	if _, err := exec.LookPath("restic"); err != nil {
		t.Fatalf("restic is not installed: run `make deps` (installs Debian's restic): %v", err)
	}
	var mu sync.Mutex
	var pings []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		pings = append(pings, r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	records, err := localstore.Open(filepath.Join(dir, "records"))
	if err != nil {
		t.Fatal(err)
	}
	dlv, err := deliver.New(deliver.Options{Store: records})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ping.New(ping.Healthchecks, srv.URL+"/ping/rt", nil)
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "RESTIC_PASSWORD=some-password-value", "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
	test := &Test{
		Repo: restic.Repo{Repository: filepath.Join(dir, "no-repo"), Env: env}, Snapshot: "latest",
		Records: records, Checks: func(bool) (Store, error) { return localstore.Open(filepath.Join(dir, "checks")) },
		Deliver: func(ctx context.Context, e spool.Entry) (deliver.Delivery, error) {
			return dlv.Deliver(ctx, e, retryOnce)
		},
		Ping: p,
	}
	rep, err := test.Run(context.Background())
	if err != nil || rep.Failed == nil {
		t.Fatalf("Run = %+v, %v; want a failed test", rep, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pings) != 2 || !strings.HasPrefix(pings[0], "/ping/rt/start ") || !strings.HasPrefix(pings[1], "/ping/rt/fail restore test failed: "+rep.Test.Notes) {
		t.Errorf("pings: got %q, want start, then fail with the notes %q", pings, rep.Test.Notes)
	}
}
