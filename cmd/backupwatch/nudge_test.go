package main

import (
	"net/http"
	"strings"
	"testing"

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
