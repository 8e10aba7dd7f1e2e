package e2e

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
)

// scrapeFreezer stands between a Prometheus and an exporter and can hold
// what Prometheus sees: frozen, it answers every scrape with the last
// answer the exporter gave; thawed, it passes each scrape through. An
// exporter that is down is a failed scrape (up 0) either way: a scrape
// that failed leaves nothing to repeat.
//
// TestHA writes a storm's results while the Vault cluster fails over and
// wants them to reach people as one message. It used to stop the
// Prometheus pair (SIGSTOP) meanwhile; but a stopped Prometheus also stops
// re-sending its firing alerts, which Alertmanager holds only 4 resend
// delays (20 s scaled), so a fail-over slowed past that by a loaded
// machine resolved the alerts already firing and fired them again. Frozen
// scrapes keep both Prometheus evaluating and re-sending what they saw,
// for as long as the writes take.
type scrapeFreezer struct {
	upstream string // the exporter's base URL
	addr     string // where Prometheus scrapes

	mu     sync.Mutex
	frozen bool
	last   []byte
	ctype  string
}

func newScrapeFreezer(t *testing.T, upstream string) *scrapeFreezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &scrapeFreezer{upstream: upstream, addr: ln.Addr().String()}
	srv := &http.Server{Handler: f}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *scrapeFreezer) freeze() { f.mu.Lock(); f.frozen = true; f.mu.Unlock() }
func (f *scrapeFreezer) thaw()   { f.mu.Lock(); f.frozen = false; f.mu.Unlock() }

func (f *scrapeFreezer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.frozen && f.last != nil {
		body, ctype := f.last, f.ctype
		f.mu.Unlock()
		w.Header().Set("Content-Type", ctype)
		w.Write(body)
		return
	}
	f.mu.Unlock()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, f.upstream+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header.Set("Accept", r.Header.Get("Accept"))
	resp, err := httpClient.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	f.mu.Lock()
	f.last = nil
	if err == nil && resp.StatusCode == http.StatusOK {
		f.last, f.ctype = body, resp.Header.Get("Content-Type")
	}
	f.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ctype := resp.Header.Get("Content-Type")
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}
