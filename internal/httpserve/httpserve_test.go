package httpserve

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// get asks h for path over HTTP.
func get(t *testing.T, h http.Handler, path string) (code int, body string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestNewRegistry: the process's own metrics, with backupwatch's build.
func TestNewRegistry(t *testing.T) {
	reg := NewRegistry()
	_, body := get(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), "/metrics")
	for _, want := range []string{"backupwatch_build_info", "go_goroutines", "process_open_fds"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%.2000s", want, body)
		}
	}
}

// TestHealth: /-/healthy always answers; /-/ready says why it is not
// ready with a 503 until it is, and is ready from the start without
// IsReady.
func TestHealth(t *testing.T) {
	var ready atomic.Bool
	mux := http.NewServeMux()
	Health{Healthy: "Healthy.", Ready: "Ready.", NotReady: "Not ready: first refresh in progress.", IsReady: ready.Load}.Route(mux)
	for _, tc := range []struct {
		ready bool
		path  string
		code  int
		body  string
	}{
		{false, "/-/healthy", 200, "Healthy.\n"},
		{false, "/-/ready", 503, "Not ready: first refresh in progress.\n"},
		{true, "/-/ready", 200, "Ready.\n"},
	} {
		ready.Store(tc.ready)
		if code, body := get(t, mux, tc.path); code != tc.code || body != tc.body {
			t.Errorf("ready=%v %s: %d %q, want %d %q", tc.ready, tc.path, code, body, tc.code, tc.body)
		}
	}
	always := http.NewServeMux()
	Health{Healthy: "OK", Ready: "OK"}.Route(always)
	if code, body := get(t, always, "/-/ready"); code != 200 || body != "OK\n" {
		t.Errorf("no IsReady: /-/ready %d %q", code, body)
	}
}

func flags(addr string) *toolkitweb.FlagConfig {
	systemd, config := false, ""
	return &toolkitweb.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: &systemd, WebConfigFile: &config}
}

// TestRun: the server answers with the work beside it running, bounds
// a request's headers, and on the context's end stops both and returns
// nil; an address it cannot listen on is its error, and the work beside
// it is stopped too.
func TestRun(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	addr := parts.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	besideEnded := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Handler:        http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }),
			Flags:          flags(addr),
			MaxHeaderBytes: 1 << 10,
			Beside:         func(ctx context.Context) { <-ctx.Done(); close(besideEnded) },
			Logger:         logger,
		})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello" {
				t.Fatalf("got %q", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 64<<10))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers over a 1 KiB bound: %v %v, want 431", resp, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after the context's end: %v, want nil", err)
	}
	select {
	case <-besideEnded:
	default:
		t.Error("Run returned before the work beside it ended")
	}

	// An address taken: the server fails at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	besideEnded = make(chan struct{})
	err = Run(context.Background(), Options{Handler: http.NotFoundHandler(), Flags: flags(l.Addr().String()),
		Beside: func(ctx context.Context) { <-ctx.Done(); close(besideEnded) }, Logger: logger})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("an address taken: %v", err)
	}
	select {
	case <-besideEnded:
	default:
		t.Error("Run returned before the work beside it ended")
	}
}
