package e2e

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// restartHosts is the fleet of TestInboxRestart. Issue 23 asks for
// 10,000; on a busy 2-core machine a refresh of 10,000 hosts outlasts the
// scaled refresh timeout (30 s) and BackupStoreUnreachable fires before
// the restart is even tried, so the suite runs 2,000 (a first refresh of
// seconds still, longer than the scaled scrape interval): run it with
// BACKUPWATCH_E2E_RESTART_HOSTS=10000 on a quieter machine.
var restartHosts = envInt("BACKUPWATCH_E2E_RESTART_HOSTS", 2000)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// writeBulk writes n hosts' records straight into Vault (a success at
// at), as `record` would leave them, 32 at a time: starting 10,000
// processes would take the test's whole budget.
func writeBulk(t *testing.T, v *vaulttest.Server, n int, at string) {
	t.Helper()
	if n == 0 {
		return
	}
	kv := v.Client(t).Logical()
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				doc := map[string]any{status.FieldStatus: status.Success, status.FieldLastSuccess: at, status.FieldLastFailure: ""}
				path := "kv/data/golemtrust/backup-status/" + url.PathEscape(bulkHost(i))
				var err error
				for range 20 { // a fresh KV v2 mount refuses writes for a moment
					if _, err = kv.WriteWithContext(context.Background(), path, map[string]any{"data": doc}); err == nil {
						break
					}
					time.Sleep(250 * time.Millisecond)
				}
				if err != nil {
					mu.Lock()
					first = cmp(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if first != nil {
		t.Fatalf("writing %d records into Vault: %v", n, first)
	}
}

func cmp(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func bulkHost(i int) string { return fmt.Sprintf("fleet-%05d", i) }

// TestInboxRestart: restarting serve under a large fleet (restartHosts) with
// one failing sends nothing: the restarted serve exports the snapshot it
// saved from its first answer on (backupwatch_snapshot_from_disk 1, every
// host), so no series vanishes, and its first refresh confirms it.
func TestInboxRestart(t *testing.T) {
	t.Parallel()
	// Scaled less than the default (a minute is 3 s): Prometheus scraping
	// and evaluating 10,000 hosts every second would not keep up on a
	// busy 2-core machine.
	s := startStack(t, stackOptions{hosts: base, bulk: restartHosts, scale: 1.0 / 20})
	r := &runner{t: t, s: s, scenario: fmt.Sprintf("serve restarts under %d hosts", restartHosts), hostRE: regexp.MustCompile(`\b(db|auth|web)\b`)}
	w := firing("BackupFailed", 1).titled("db").saying("db", repoDown).matching(exitCodeRE(10))
	r.phase(phase{name: "db fails", slack: []want{w}, email: []want{w},
		do: func() { s.bw("record", "--status=failed", "--host=db", "--exit-code=10", "--message="+repoDown) }})

	wantHosts := fmt.Sprintf("backupwatch_hosts %d\n", len(base)+restartHosts)
	r.phase(phase{name: "serve restarts: nothing is sent",
		do: func() {
			// SIGTERM: serve saves what it exports as it stops.
			s.serve.stop(t)
			s.serve = start(t, "backupwatch serve", s.env(), backupwatchBin, s.serveArg...)
			s.addPart(s.serve)
			// Its first answer already holds the fleet.
			var first string
			waitFor(t, "the restarted serve's first /metrics", s.deadline, func() (bool, string) {
				resp, err := httpClient.Get(s.serveURL + "/metrics")
				if err != nil {
					return false, err.Error()
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				first = string(b)
				return err == nil && resp.StatusCode == 200, fmt.Sprintf("status %d, %v", resp.StatusCode, err)
			})
			if !strings.Contains(first, wantHosts) || !strings.Contains(first, `backup_status{host="db",status="failed"} 1`) {
				t.Errorf("the restarted serve's first /metrics lacks %q or db's failure: it exported nothing saved", strings.TrimSpace(wantHosts))
			}
			if !strings.Contains(s.serve.tail(), "exporting the saved snapshot") {
				t.Errorf("the restarted serve did not load its saved snapshot; its log:\n%s", s.serve.tail())
			}
			waitFor(t, "Prometheus to see the restarted serve's first refresh", s.deadline, func() (bool, string) {
				v := s.promQuery(`backupwatch_snapshot_from_disk`)
				return v == "0", fmt.Sprintf("backupwatch_snapshot_from_disk %q", v)
			})
		},
		check: func(_, _, _ []note) []string {
			if n := s.promQuery(`count(ALERTS{alertname="BackupFailed",alertstate="firing"})`); n != "1" {
				return []string{fmt.Sprintf("BackupFailed firing for %q hosts after the restart, want 1 (db)", n)}
			}
			return nil
		},
	})
}
