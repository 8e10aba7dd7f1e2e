package web

import (
	"context"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

const hostileLog = "restic backup\n\x1b[31mFatal:\x1b[0m unable to open config file: " + hostileValue + "\n\x00\xff</pre><script>alert(3)</script>\nlast line"

// hostStore is a real local store with db's record and its last 30 runs
// (of 34: a failure every fifth), a job, and the last failure's log.
func hostStore(t *testing.T) *localstore.Store {
	t.Helper()
	s, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(key string, doc map[string]any) {
		if err := s.Update(ctx, key, func(map[string]any) (map[string]any, bool, error) { return doc, true, nil }); err != nil {
			t.Fatal(err)
		}
	}
	var doc map[string]any
	var last status.Result
	for i := range 34 {
		code, d := int64(0), 600+float64(i*37%300)
		outcome, msg := status.Success, ""
		if i%5 == 3 || i == 33 {
			code, outcome, msg = 1, status.Failed, "exit status 1\nFatal: "+hostileValue
		}
		last = status.Result{Host: "db", Outcome: outcome, At: testNow.Add(time.Duration(i-34) * 24 * time.Hour), ExitCode: &code, Duration: &d, Message: msg,
			Extra: map[string]string{status.FieldFilesProcessed: "120345", status.FieldBytesProcessed: strings.TrimSpace(strings.Repeat("5", 11))}}
		if i%7 == 0 {
			delete(last.Extra, status.FieldBytesProcessed) // from a program without a summary
		}
		doc, _ = status.Apply(doc, last)
	}
	put("db", doc)
	put(status.SideKey("db", status.SideLog), status.LogDoc(last, hostileLog))
	job, _ := status.Apply(nil, status.Result{Host: "db", Job: "files", Outcome: status.Success, At: testNow.Add(-time.Hour)})
	put(status.Key("db", "files"), job)
	return s
}

func hostServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHost(HostOptions{Source: hostStore(t), Now: func() time.Time { return testNow }}))
	t.Cleanup(srv.Close)
	return srv
}

func getPage(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestHostPage: the host page shows the last 30 runs as charts and a
// table, and the failure's log, every value escaped; unknown or invalid
// names are not found.
func TestHostPage(t *testing.T) {
	srv := hostServer(t)
	code, body, hd := getPage(t, srv.URL+"/host/db")
	if code != http.StatusOK {
		t.Fatalf("GET /host/db: %d\n%s", code, body)
	}
	if !strings.Contains(hd.Get("Content-Security-Policy"), "default-src 'none'") || strings.Contains(hd.Get("Content-Security-Policy"), "script-src") {
		t.Errorf("CSP %q", hd.Get("Content-Security-Policy"))
	}
	for what, n := range map[string]int{"<tr><td>": status.HistoryLen, "<rect ": status.HistoryLen*3 - 4} {
		if got := strings.Count(body, what); got != n {
			t.Errorf("%d %q, want %d", got, what, n)
		}
	}
	for _, bad := range []string{"<script", "<img", "\x1b", "\x00"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;\nlast line</pre>", "last backup failed", "51.7 GiB", "exit status 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	if code, body, _ := getPage(t, srv.URL+"/host/db/files"); code != http.StatusOK || !strings.Contains(body, "db job files") || !strings.Contains(body, "data-no-log") {
		t.Errorf("job page: %d\n%s", code, body)
	}
	for _, path := range []string{"/host/nope", "/host/db/nope", "/host/%3Cscript%3E", "/host/", "/host/db/files/x", "/host/restore-test"} {
		if code, body, _ := getPage(t, srv.URL+path); code != http.StatusNotFound || strings.Contains(body, "<script") {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
}

// TestHostPageInChromium: Chromium renders the host page with its 30 runs,
// charts and log, runs no script; the screenshot shows red and green runs.
func TestHostPageInChromium(t *testing.T) {
	srv := hostServer(t)
	d := parseDOM(t, runChromium(t, "--dump-dom", srv.URL+"/host/db"))
	if len(d.handlers) > 0 {
		t.Errorf("event handlers in the DOM: %v", d.handlers)
	}
	body := text(d.doc)
	for _, want := range []string{"Last 30 runs", "</pre><script>alert(3)</script>", "last line", "Outcomes"} {
		if !strings.Contains(body, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	img := screenshot(t, srv.URL+"/host/db", 1000, 1400, "host.png")
	got := countColours(img, map[string]color.RGBA{"green": {0x2e, 0x7d, 0x32, 0xff}, "red": {0xc6, 0x28, 0x28, 0xff}})
	if got["green"] < 500 || got["red"] < 200 {
		t.Errorf("colours in the screenshot: %v; want green and red runs", got)
	}
}

// TestHostPageAccessible runs axe-core's WCAG 2 A and AA rules on the host
// page in Chromium, as TestPageAccessible does on the status page.
func TestHostPageAccessible(t *testing.T) {
	srv := hostServer(t)
	axe(t, "", srv.URL, "/host/db", "/host/db/files")
}
