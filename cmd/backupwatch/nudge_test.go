package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestNudge: serve refreshes once an hour, yet a result written by record
// or run with --exporter.url is served at once (one host read again, not
// the fleet); a nudge that cannot be delivered is a warning, never a
// failure of the command; bad nudges are refused.
func TestNudge(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	t.Setenv("BACKUPWATCH_SPOOL_DIR", t.TempDir())
	global := []string{"--vault.address=" + v.Addr}
	for _, h := range []string{"db", "web"} {
		if code, _, errOut := cli(t, append(global, "record", "--status=success", "--host="+h)...); code != exitOK {
			t.Fatalf("record %s: exit %d: %s", h, code, errOut)
		}
	}
	e := startExporter(t, global, "--refresh.interval=1h")
	e.waitFor(t, "the first refresh", storeUp(1))

	nudged := append(global, "--exporter.url="+e.url+","+"http://"+freeAddr(t))
	code, _, errOut := cli(t, append(nudged, "record", "--status=failed", "--host=db", "--exit-code=3", "--message=disk full")...)
	if code != exitOK {
		t.Fatalf("record with one exporter down: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "exporter not nudged") {
		t.Errorf("record: the exporter that is down is not reported:\n%s", errOut)
	}
	s := e.waitFor(t, "db failed without a refresh", func(s scrape) bool { return s.status("db") == "failed" })
	if n, _ := s.value("backupwatch_nudge_reads_total"); n != 1 {
		t.Errorf("backupwatch_nudge_reads_total = %v, want 1 (db only)", n)
	}

	code, _, errOut = cli(t, append(nudged, "run", "--host=web", "--log.file=", "--lock.file="+t.TempDir()+"/web.lock", "--", "sh", "-c", "exit 5")...)
	if code != 5 {
		t.Fatalf("run: exit %d, want the program's 5: %s", code, errOut)
	}
	e.waitFor(t, "web failed without a refresh", func(s scrape) bool { return s.status("web") == "failed" })

	for _, tc := range []struct {
		method, query string
		want          int
	}{
		{"POST", "host=db", http.StatusAccepted},
		{"POST", "host=newhost", http.StatusAccepted},
		{"GET", "host=db", http.StatusMethodNotAllowed},
		{"POST", "host=", http.StatusBadRequest},
		{"POST", "host=" + strings.Repeat("a", 300), http.StatusBadRequest},
		{"POST", "host=a%2Fb", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(tc.method, e.url+"/-/nudge?"+tc.query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s /-/nudge?%.40s: %d, want %d", tc.method, tc.query, resp.StatusCode, tc.want)
		}
	}

	// A bad --exporter.url is a usage error before anything is written.
	code, _, errOut = cli(t, append(global, "--exporter.url=ftp://x", "record", "--status=success", "--host=db")...)
	if code != exitUsage || !strings.Contains(errOut, "--exporter.url") {
		t.Errorf("bad --exporter.url: exit %d, %q; want %d naming the flag", code, errOut, exitUsage)
	}
}

// TestNudgeNewRecords (issue 16 item 5): serve refreshes once an hour, yet
// what a nudge names is served at once even when serve has never seen it:
// a known host's new job, a host that reports only through a job, the
// restore test (the runbook's and a job's), so the run most likely to
// fail, the first, is never the one that waits for the full refresh.
func TestNudgeNewRecords(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	t.Setenv("BACKUPWATCH_SPOOL_DIR", t.TempDir())
	global := []string{"--vault.address=" + v.Addr}
	if code, _, errOut := cli(t, append(global, "record", "--status=success", "--host=db")...); code != exitOK {
		t.Fatalf("record db: exit %d: %s", code, errOut)
	}
	e := startExporter(t, global, "--refresh.interval=1h")
	e.waitFor(t, "the first refresh", storeUp(1))
	nudged := append(global, "--exporter.url="+e.url)

	jobStatus := func(host, job string) func(s scrape) bool {
		return func(s scrape) bool {
			v, ok := s.value("backup_status", "host", host, "backup_job", job, "status", "failed")
			return ok && v == 1
		}
	}
	for _, tc := range []struct {
		what string
		args []string
		cond func(s scrape) bool
	}{
		{"a known host's new job", []string{"record", "--status=failed", "--host=db", "--job=files", "--exit-code=1"}, jobStatus("db", "files")},
		{"a host that reports only through a job", []string{"record", "--status=failed", "--host=jobsonly", "--job=dump", "--exit-code=1"}, jobStatus("jobsonly", "dump")},
		{"the first restore test", []string{"restore-test", "record", "--result=failed", "--host-tested=db", "--time-to-restore=1m"},
			func(s scrape) bool {
				v, ok := s.value("backup_restore_test_result", "result", "failed")
				return ok && v == 1
			}},
		{"a restore test's job", []string{"restore-test", "record", "--result=failed", "--host-tested=db", "--time-to-restore=1m", "--job=weekly"},
			func(s scrape) bool {
				v, ok := s.value("backup_restore_test_result", "backup_job", "weekly", "result", "failed")
				return ok && v == 1
			}},
	} {
		t0 := time.Now()
		if code, _, errOut := cli(t, append(nudged, tc.args...)...); code != exitOK || strings.Contains(errOut, "not nudged") {
			t.Fatalf("%s: exit %d: %s", tc.what, code, errOut)
		}
		e.waitFor(t, tc.what+" without a refresh", tc.cond)
		t.Logf("%s: in /metrics %v after the command started", tc.what, time.Since(t0).Round(time.Millisecond))
	}
	s := e.scrape(t)
	if n, _ := s.value("backupwatch_refreshes_total"); n > 1 {
		t.Errorf("%v full refreshes: the test proves nothing", n)
	}
	if strings.Contains(s.text, `backup_status{host="jobsonly",status="unknown"}`) {
		t.Errorf("jobsonly, reporting through its job, also has a record of its own")
	}
}

// TestNudgeFlood (issue 16 item 8): whoever reaches the port can send
// nudges for made-up hosts; they fill the sender's own bounded queue (the
// rest get 503), and a real host's failure, nudged after the flood, is
// read before the flood's: the queues say so, whatever the clock.
func TestNudgeFlood(t *testing.T) {
	v := vaulttest.Start(t)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	t.Setenv("BACKUPWATCH_SPOOL_DIR", t.TempDir())
	global := []string{"--vault.address=" + v.Addr}
	if code, _, errOut := cli(t, append(global, "record", "--status=success", "--host=db")...); code != exitOK {
		t.Fatalf("record db: exit %d: %s", code, errOut)
	}
	// One read a second: the flood's accepted nudges take half a minute,
	// so the failure is served before them only if it jumps the queue.
	e := startExporter(t, global, "--refresh.interval=1h", "--refresh.nudge-rate=1")
	e.waitFor(t, "the first refresh", storeUp(1))

	// The flood comes from eight other loopback addresses, as from other
	// machines: together they hold more places (8 x 32) than the burst of
	// reads (100), so that some still wait when db's nudge arrives.
	var flooders []*http.Client
	for i := range 8 {
		flooders = append(flooders, &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}}).DialContext,
			MaxIdleConnsPerHost: 2,
		}})
	}
	const flood = 8000
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
		next  atomic.Int64
	)
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1); i <= flood; i = next.Add(1) {
				resp, err := flooders[i%8].Post(fmt.Sprintf("%s/-/nudge?host=made-up-%d", e.url, i), "", nil)
				if err != nil {
					t.Errorf("flood: %v", err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// The flood's client has MaxPendingPerClient waiting at most; more
	// pass only as reads drain them (the burst, then one a second).
	if codes[http.StatusAccepted]+codes[http.StatusServiceUnavailable] != flood || codes[http.StatusServiceUnavailable] < flood/2 {
		t.Errorf("flood of %d nudges: answered %v, want most refused with 503", flood, codes)
	}

	code, _, errOut := cli(t, append(global, "--exporter.url="+e.url, "record", "--status=failed", "--host=db", "--exit-code=1")...)
	if code != exitOK || strings.Contains(errOut, "not nudged") {
		t.Fatalf("record during the flood: exit %d: %s", code, errOut)
	}
	s := e.waitFor(t, "db failed without a refresh", func(s scrape) bool { return s.status("db") == "failed" })
	if waiting, _ := s.value("backupwatch_nudges_waiting", "queue", "new"); waiting == 0 {
		t.Errorf("db served only once the flood's nudges were read: it must jump their queue (flood answered %v)\n%s", codes, s.text)
	}
	if dropped, _ := s.value("backupwatch_nudges_total", "result", "dropped"); dropped != float64(codes[http.StatusServiceUnavailable]) {
		t.Errorf("backupwatch_nudges_total{result=\"dropped\"} = %v, want the %d refused", dropped, codes[http.StatusServiceUnavailable])
	}
}
