package inflight

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// gate is a handler whose requests stay in it until released, so that a
// test decides exactly how many are being served.
type gate struct {
	entered chan string   // the path of each request that got its turn
	release chan struct{} // one token lets one request finish
}

func newGate() *gate {
	return &gate{entered: make(chan string, 100), release: make(chan struct{}, 100)}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.entered <- r.URL.Path
	<-g.release
	io.WriteString(w, "ok "+r.URL.Path)
}

type result struct {
	path, body, retryAfter string
	code                   int
	err                    error
}

// get requests path and sends the result to out.
func get(ctx context.Context, base, path string, header http.Header, out chan<- result) {
	req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		out <- result{path: path, err: err}
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	out <- result{path: path, code: resp.StatusCode, body: string(b), retryAfter: resp.Header.Get("Retry-After"), err: err}
}

// eventually waits for cond, failing the test if it never holds (a
// deadlock, not a slow machine: the bound is far beyond any run).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s after a minute", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("no %s after a minute", what)
		panic("unreachable")
	}
}

func metrics(t *testing.T, l *Limiter, inFlight, waiting, limit, full, wait string) {
	t.Helper()
	want := `
# HELP backupwatch_http_max_requests_in_flight Requests the handler serves at once; more wait, then get 503.
# TYPE backupwatch_http_max_requests_in_flight gauge
backupwatch_http_max_requests_in_flight{handler="test"} ` + limit + `
# HELP backupwatch_http_requests_in_flight Requests being served by the handler now.
# TYPE backupwatch_http_requests_in_flight gauge
backupwatch_http_requests_in_flight{handler="test"} ` + inFlight + `
# HELP backupwatch_http_requests_refused_total Requests answered 503 because the handler was busy: too many waiting already (queue_full) or no turn within the wait (wait).
# TYPE backupwatch_http_requests_refused_total counter
backupwatch_http_requests_refused_total{handler="test",reason="queue_full"} ` + full + `
backupwatch_http_requests_refused_total{handler="test",reason="wait"} ` + wait + `
# HELP backupwatch_http_requests_waiting Requests waiting for their turn at the handler now (see backupwatch_http_max_requests_in_flight).
# TYPE backupwatch_http_requests_waiting gauge
backupwatch_http_requests_waiting{handler="test"} ` + waiting + `
`
	if err := testutil.CollectAndCompare(l, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(l); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// TestBeyondMaxWaitThenRefuse: Max requests are served, Queue more wait and
// are served in turn, and one more is refused at once with 503 and
// Retry-After.
func TestBeyondMaxWaitThenRefuse(t *testing.T) {
	g := newGate()
	l := New(Options{Name: "test", Max: 2, Queue: 1, MaxWait: time.Hour})
	srv := httptest.NewServer(l.Wrap(g))
	defer srv.Close()
	ctx := context.Background()
	done := make(chan result, 10)

	go get(ctx, srv.URL, "/1", nil, done)
	go get(ctx, srv.URL, "/2", nil, done)
	receive(t, "first request served", g.entered)
	receive(t, "second request served", g.entered)
	go get(ctx, srv.URL, "/3", nil, done)
	eventually(t, "the third request waiting", func() bool { return l.Waiting() == 1 })
	metrics(t, l, "2", "1", "2", "0", "0")

	got := make(chan result, 1)
	get(ctx, srv.URL, "/4", nil, got)
	r := <-got
	if r.err != nil || r.code != http.StatusServiceUnavailable || r.retryAfter != "3600" || !strings.Contains(r.body, "busy") {
		t.Errorf("the fourth request: %d, Retry-After %q, %q, %v; want 503, Retry-After 3600, busy", r.code, r.retryAfter, r.body, r.err)
	}
	metrics(t, l, "2", "1", "2", "1", "0")

	g.release <- struct{}{}
	if got := receive(t, "third request served", g.entered); got != "/3" {
		t.Errorf("served %s once a turn was free, want the waiting /3", got)
	}
	g.release <- struct{}{}
	g.release <- struct{}{}
	for range 3 {
		r := receive(t, "an answer", done)
		if r.err != nil || r.code != 200 || r.body != "ok "+r.path {
			t.Errorf("%s: %d %q %v, want 200", r.path, r.code, r.body, r.err)
		}
	}
	metrics(t, l, "0", "0", "2", "1", "0")
}

// TestWaitIsBounded: with every turn taken, a request waits at most
// MaxWait, or half the scrape timeout its Prometheus announces, and is
// then refused.
func TestWaitIsBounded(t *testing.T) {
	tests := []struct {
		name           string
		maxWait        time.Duration
		header         http.Header
		wantRetryAfter string
	}{
		{"max wait", time.Nanosecond, nil, "1"},
		{"scrape timeout", time.Hour, http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"0.000001"}}, "3600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			l := New(Options{Name: "test", Max: 1, MaxWait: tt.maxWait})
			srv := httptest.NewServer(l.Wrap(g))
			defer srv.Close()
			done := make(chan result, 2)
			go get(context.Background(), srv.URL, "/held", nil, done)
			receive(t, "a request served", g.entered)

			get(context.Background(), srv.URL, "/late", tt.header, done)
			r := <-done
			if r.code != http.StatusServiceUnavailable || r.retryAfter != tt.wantRetryAfter {
				t.Errorf("got %d, Retry-After %q (%v); want 503, Retry-After %s", r.code, r.retryAfter, r.err, tt.wantRetryAfter)
			}
			metrics(t, l, "1", "0", "1", "0", "1")
			g.release <- struct{}{}
			if r := receive(t, "the held answer", done); r.code != 200 {
				t.Errorf("held request: %d %v", r.code, r.err)
			}
		})
	}
}

func TestAnnouncedTimeout(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"10", 10 * time.Second},
		{"9.5", 9500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{"NaN", 0},
		{"1e12", 0},
		{"ten", 0},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tt.header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tt.header)
		}
		if got := announcedTimeout(r); got != tt.want {
			t.Errorf("announcedTimeout(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

// TestClientGoneWhileWaiting: a request whose client gives up while it
// waits leaves the queue, is not served and is not counted as refused.
func TestClientGoneWhileWaiting(t *testing.T) {
	g := newGate()
	l := New(Options{Name: "test", Max: 1, MaxWait: time.Hour})
	srv := httptest.NewServer(l.Wrap(g))
	defer srv.Close()
	done := make(chan result, 2)
	go get(context.Background(), srv.URL, "/held", nil, done)
	receive(t, "a request served", g.entered)

	ctx, cancel := context.WithCancel(context.Background())
	go get(ctx, srv.URL, "/impatient", nil, done)
	eventually(t, "a request waiting", func() bool { return l.Waiting() == 1 })
	cancel()
	if r := receive(t, "the impatient answer", done); !errors.Is(r.err, context.Canceled) {
		t.Errorf("impatient request: %d %v, want it cancelled", r.code, r.err)
	}
	eventually(t, "the queue empty", func() bool { return l.Waiting() == 0 })
	g.release <- struct{}{}
	receive(t, "the held answer", done)
	metrics(t, l, "0", "0", "1", "0", "0")
	select {
	case p := <-g.entered:
		t.Errorf("%s was served after its client left", p)
	default:
	}
}

// TestServesAtMostMax: however many come at once, no more than Max are
// being served at any moment, and all are served in the end.
func TestServesAtMostMax(t *testing.T) {
	const limit, n = 3, 50
	var now, peak atomic.Int64
	l := New(Options{Name: "test", Max: limit, Queue: n, MaxWait: time.Hour})
	srv := httptest.NewServer(l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := now.Add(1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		time.Sleep(time.Millisecond) // let others pile up
		now.Add(-1)
	})))
	defer srv.Close()
	done := make(chan result, n)
	for range n {
		go get(context.Background(), srv.URL, "/", nil, done)
	}
	for range n {
		if r := receive(t, "an answer", done); r.code != 200 {
			t.Errorf("got %d %v, want 200", r.code, r.err)
		}
	}
	if p := peak.Load(); p > limit || p < 1 {
		t.Errorf("%d requests served at once, want 1 to %d", p, limit)
	}
}

// TestArrivalOrder: a freed turn goes to the request that has waited
// longest.
func TestArrivalOrder(t *testing.T) {
	g := newGate()
	l := New(Options{Name: "test", Max: 1, MaxWait: time.Hour})
	srv := httptest.NewServer(l.Wrap(g))
	defer srv.Close()
	done := make(chan result, 10)
	go get(context.Background(), srv.URL, "/0", nil, done)
	receive(t, "a request served", g.entered)
	order := []string{"/1", "/2", "/3", "/4"}
	for i, p := range order {
		go get(context.Background(), srv.URL, p, nil, done)
		eventually(t, p+" waiting", func() bool { return l.Waiting() == i+1 })
	}
	for _, want := range order {
		g.release <- struct{}{}
		if got := receive(t, "the next request served", g.entered); got != want {
			t.Errorf("served %s, want %s (arrival order)", got, want)
		}
	}
	g.release <- struct{}{}
	for range 5 {
		receive(t, "an answer", done)
	}
}

// TestStuckClientLosesItsTurn: a client that stops reading holds its turn
// only until the write timeout.
func TestStuckClientLosesItsTurn(t *testing.T) {
	l := New(Options{Name: "test", Max: 1, MaxWait: time.Hour, WriteTimeout: 50 * time.Millisecond})
	chunk := make([]byte, 1<<20)
	srv := httptest.NewServer(l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/endless" {
			io.WriteString(w, "ok")
			return
		}
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	eventually(t, "the endless request served", func() bool { return l.InFlight() == 1 })

	done := make(chan result, 1)
	go get(context.Background(), srv.URL, "/next", nil, done)
	if r := receive(t, "the next answer", done); r.code != 200 || r.body != "ok" {
		t.Errorf("next request: %d %q %v, want 200 once the stuck one timed out", r.code, r.body, r.err)
	}
}

// TestDeadlineEndsWithTheRequest: the write timeout of one request does
// not carry over to the next on the same keep-alive connection.
func TestDeadlineEndsWithTheRequest(t *testing.T) {
	l := New(Options{Name: "test", Max: 1, WriteTimeout: 20 * time.Millisecond})
	srv := httptest.NewServer(l.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	var mu sync.Mutex
	var reused []bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		mu.Lock()
		reused = append(reused, i.Reused)
		mu.Unlock()
	}}
	for i := range 2 {
		if i > 0 {
			time.Sleep(100 * time.Millisecond) // past the first request's deadline
		}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "ok" {
			t.Errorf("request %d: %d %q %v", i, resp.StatusCode, b, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reused) != 2 || !reused[1] {
		t.Errorf("connection reuse %v, want the second request on the first's connection", reused)
	}
}
