package ping

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// hit is one request a stand-in checker received.
type hit struct {
	method, path string
	query        map[string]string
	body         string
}

// checker is a stand-in for healthchecks' or Uptime Kuma's ping API.
type checker struct {
	*httptest.Server
	mu     sync.Mutex
	hits   []hit
	answer func(n int) int // status of the n-th request (0-based)
}

func newChecker(t *testing.T, answer func(n int) int) *checker {
	c := &checker{answer: answer}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		q := map[string]string{}
		for k, v := range r.URL.Query() {
			q[k] = v[0]
		}
		c.mu.Lock()
		n := len(c.hits)
		c.hits = append(c.hits, hit{r.Method, r.URL.Path, q, string(b)})
		c.mu.Unlock()
		code := 200
		if c.answer != nil {
			code = c.answer(n)
		}
		w.WriteHeader(code)
		io.WriteString(w, "OK")
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *checker) got() []hit {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]hit(nil), c.hits...)
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHealthchecksProtocol(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ok       bool
		wantPath string
	}{
		{"success", true, "/ping/abc-123"},
		{"failure", false, "/ping/abc-123/fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(t, nil)
			var logs bytes.Buffer
			p, err := New(Healthchecks, c.URL+"/ping/abc-123", slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			p.Start(context.Background(), "run started")
			p.End(context.Background(), tc.ok, 1, "exit status 1\n\nFatal: wrong password")
			hits := c.got()
			if len(hits) != 2 {
				t.Fatalf("got %d pings, want 2: %+v", len(hits), hits)
			}
			if h := hits[0]; h.method != http.MethodPost || h.path != "/ping/abc-123/start" || !uuidRE.MatchString(h.query["rid"]) {
				t.Errorf("start ping: got %s %s rid=%q, want POST /ping/abc-123/start with a UUID rid", h.method, h.path, h.query["rid"])
			}
			if h := hits[1]; h.path != tc.wantPath || h.query["rid"] != hits[0].query["rid"] || h.body != "exit status 1\n\nFatal: wrong password" {
				t.Errorf("end ping: got %s rid=%q body %q, want %s with the start's rid and the body", h.path, h.query["rid"], h.body, tc.wantPath)
			}
			if p.Failures() != 0 || logs.Len() != 0 {
				t.Errorf("failures %d, log %q; want none", p.Failures(), logs.String())
			}
		})
	}
}

func TestRunIDsDiffer(t *testing.T) {
	a, _ := New(Healthchecks, "https://hc.example/x", nil)
	b, _ := New(Healthchecks, "https://hc.example/x", nil)
	if a.RunID() == b.RunID() || a.RunID() != a.RunID() {
		t.Errorf("run ids %s and %s: want one per pinger, stable", a.RunID(), b.RunID())
	}
}

func TestUptimeKuma(t *testing.T) {
	c := newChecker(t, nil)
	p, err := New(UptimeKuma, c.URL+"/api/push/tok3n?status=up&msg=OK&ping=", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Start(context.Background(), "run started")
	p.End(context.Background(), false, 1, "run of host db: failed: exit status 1\n\n"+strings.Repeat("x", 2000))
	hits := c.got()
	if len(hits) != 1 {
		t.Fatalf("got %d pushes, want 1 (no start): %+v", len(hits), hits)
	}
	h := hits[0]
	if h.method != http.MethodGet || h.path != "/api/push/tok3n" || h.query["status"] != "down" || h.query["msg"] != "run of host db: failed: exit status 1" || h.query["ping"] == "" {
		t.Errorf("push: got %s %s %v, want GET /api/push/tok3n status=down, the reason as msg, ping", h.method, h.path, h.query)
	}
	if got := kumaMsg(strings.Repeat("y", 2000), "fail"); len(got) > maxMsg {
		t.Errorf("msg of %d bytes, want at most %d", len(got), maxMsg)
	}
}

func TestRetriedThenCounted(t *testing.T) {
	c := newChecker(t, func(n int) int {
		if n < 2 {
			return http.StatusServiceUnavailable
		}
		return 200
	})
	p, _ := New(Healthchecks, c.URL+"/u", nil)
	p.Backoff = time.Millisecond
	p.End(context.Background(), true, 0, "")
	if n := len(c.got()); n != 3 || p.Failures() != 0 {
		t.Errorf("503, 503, 200: got %d requests and %d failures, want 3 and 0", n, p.Failures())
	}

	c = newChecker(t, func(int) int { return http.StatusNotFound })
	var logs bytes.Buffer
	p, _ = New(Healthchecks, c.URL+"/secret-uuid-1234", slog.New(slog.NewTextHandler(&logs, nil)))
	p.End(context.Background(), true, 0, "")
	if n := len(c.got()); n != 1 || p.Failures() != 1 {
		t.Errorf("404: got %d requests and %d failures, want 1 (not retried) and 1", n, p.Failures())
	}
	if !strings.Contains(logs.String(), "404") || strings.Contains(logs.String(), "secret-uuid") {
		t.Errorf("log %q: want the 404 and not the URL", logs.String())
	}
}

// TestCheckerDownOrHanging: a closed port and a server that never answers
// each cost at most the budget, and count as a failure.
func TestCheckerDownOrHanging(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/ping/x"
	l.Close()

	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // accepted, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()

	for name, u := range map[string]string{"down": closed, "hanging": "http://" + hang.Addr().String() + "/ping/x"} {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			p, _ := New(Healthchecks, u, slog.New(slog.NewTextHandler(&logs, nil)))
			p.Budget, p.Backoff = 300*time.Millisecond, 10*time.Millisecond
			done := make(chan struct{})
			go func() {
				p.Start(context.Background(), "run started")
				p.End(context.Background(), true, 0, "body")
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second): // far beyond 2 budgets: it hangs
				t.Fatal("pings did not return")
			}
			if p.Failures() != 2 {
				t.Errorf("failures: got %d, want 2 (start and end)", p.Failures())
			}
			if strings.Contains(logs.String(), "/ping/x") || strings.Count(logs.String(), "level=WARN") != 2 {
				t.Errorf("log: want two warnings without the URL, got %q", logs.String())
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url, want string // want: part of the error, "" for none
	}{
		{"https://hc-ping.com/0f2a4b6c-1d3e-4f50-8a9b-0c1d2e3f4a5b", ""},
		{"http://kuma.lan:3001/api/push/abc?status=up&msg=OK&ping=", ""},
		{"ftp://hc.example/x", "http or https"},
		{"file:///etc/ping-url", "points at a file"},
		{"/etc/backupwatch/ping-url", "points at a file"},
		{"https://user:pa55word@hc.example/x", "credentials"},
		{"https://token@hc.example/x", "credentials"},
		{"https:///x", "no host"},
		{"", "empty"},
		{"hc-ping.com/abc", "http or https"},
		{"https://hc.example/x#frag", "fragment"},
	} {
		err := CheckURL(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckURL(%q): %v, want none", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckURL(%q): %v, want one saying %q", tc.url, err, tc.want)
		case err != nil && tc.url != "" && strings.Contains(err.Error(), tc.url):
			t.Errorf("CheckURL(%q): the error quotes the URL: %v", tc.url, err)
		}
	}
}

func TestReadURLFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "ping-url")
	os.WriteFile(f, []byte("  https://hc.example/abc \n"), 0o600)
	if u, err := ReadURLFile(f); err != nil || u != "https://hc.example/abc" {
		t.Errorf("got %q, %v", u, err)
	}
	os.WriteFile(f, []byte("https://u:p@hc.example/abc\n"), 0o600)
	if _, err := ReadURLFile(f); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("credentials: got %v", err)
	}
	if _, err := ReadURLFile(dir); err == nil {
		t.Error("a directory: no error")
	}
}

func TestBoundAndTail(t *testing.T) {
	reason := "exit status 1\nFatal: wrong password"
	out := strings.Repeat("line of output\n", 20000)
	b := Bound(reason+"\n\n"+out, MaxBody)
	if len(b) > MaxBody || !strings.HasPrefix(b, reason) || !strings.HasSuffix(b, "line of output\n") {
		t.Errorf("bound: %d bytes (want at most %d), head %q, tail %q", len(b), MaxBody, b[:40], b[len(b)-20:])
	}
	var tl Tail
	for range 30000 {
		tl.Write([]byte("0123456789\n"))
	}
	if s := tl.String(); len(s) != MaxBody || !strings.HasSuffix(s, "0123456789\n") {
		t.Errorf("tail: %d bytes, want %d ending in a whole line", len(s), MaxBody)
	}
}
