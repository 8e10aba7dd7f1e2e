package vaultkv

import (
	"context"
	"fmt"
	"github.com/hashicorp/vault/api"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

func TestAddressList(t *testing.T) {
	for _, tc := range []struct {
		addr, want string // want: a substring of the error, "" for none
	}{
		{"http://a:8200", ""},
		{"http://a:8200,http://b:8200,http://c:8200", ""},
		{"https://a:8200, https://b:8200", ""},
		{"http://a:8200,https://b:8200", "one scheme and path"},
		{"https://a/vault,https://b/other", "one scheme and path"},
		{"http://a:8200,http://a:8200", "listed twice"},
		{"http://a:8200,unix:///run/vault.sock", "unix socket"},
		{"http://a:8200,b:8200", "not a URL"},
		{"http://u:pw@a:8200,ftp://b", "scheme \"ftp\""},
		{",", "no address"},
	} {
		err := Config{Address: tc.addr, Mount: "kv", Prefix: "p", Timeout: time.Second}.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: got %v, want no error", tc.addr, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: got %v, want an error saying %q", tc.addr, err, tc.want)
		case err != nil && strings.Contains(err.Error(), "pw"):
			t.Errorf("%q: error shows the password: %v", tc.addr, err)
		}
	}
}

// TestFailoverTransport: a dead node, a standby redirecting to another
// node, and a node that answers: the request (with its body) reaches the
// one that answers, and the next request goes straight to it.
func TestFailoverTransport(t *testing.T) {
	var hits sync.Map // node name -> *atomic.Int32
	count := func(name string) int32 {
		v, _ := hits.LoadOrStore(name, new(atomic.Int32))
		return v.(*atomic.Int32).Load()
	}
	hit := func(name string) { v, _ := hits.LoadOrStore(name, new(atomic.Int32)); v.(*atomic.Int32).Add(1) }

	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := dead.URL
	dead.Close()
	active := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit("active")
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	}))
	defer active.Close()
	unready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit("unready")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unready.Close()
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit("standby")
		http.Redirect(w, r, active.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer standby.Close()

	f := newFailover(http.DefaultTransport.(*http.Transport).Clone(), []string{deadAddr, standby.URL, unready.URL, active.URL})
	client := &http.Client{Transport: f, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, want := range []string{"PUT record-1", "PUT record-2"} {
		req, _ := http.NewRequestWithContext(ctx, "PUT", deadAddr+"/v1/kv/data/x", strings.NewReader(fmt.Sprintf("record-%d", i+1)))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := string(b); resp.StatusCode != 200 || got != want {
			t.Errorf("request %d: got %d %q, want 200 %q", i+1, resp.StatusCode, got, want)
		}
	}
	// The first request: dead, standby (redirects to active), active. The
	// second one goes to active at once.
	if got := [3]int32{count("standby"), count("unready"), count("active")}; got != [3]int32{1, 0, 2} {
		t.Errorf("hits standby, unready, active = %v, want [1 0 2]", got)
	}

	// Every node failing: rounds until the deadline, then the last answer.
	f2 := newFailover(http.DefaultTransport.(*http.Transport).Clone(), []string{deadAddr, unready.URL})
	rounds := 0
	f2.sleep = func(context.Context, time.Duration) bool { rounds++; return rounds < 2 }
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	before := count("unready")
	req, _ := http.NewRequestWithContext(ctx2, "GET", deadAddr+"/v1/sys/health", nil)
	resp, err := (&http.Client{Transport: f2}).Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("all nodes failing: got %v %v, want the last node's 503", resp, err)
	}
	if n := count("unready") - before; n < 2 {
		t.Errorf("all nodes failing: unready node asked %d times, want a round after a wait", n)
	}
}

// TestClusterLeaderKilled: writers keep recording results through a store
// given the three nodes' addresses while the active node is killed, twice
// (the first one restarted in between): no write fails, none is lost.
func TestClusterLeaderKilled(t *testing.T) {
	c := vaulttest.StartCluster(t)
	n := c.Nodes[0]
	n.PutPolicy(t, "writer", `path "kv/data/golemtrust/backup-status/*" { capabilities = ["create", "read", "update"] }
path "sys/internal/ui/mounts/*" { capabilities = ["read"] }`)
	roleID, secretID := n.AppRole(t, "writer", []string{"writer"}, 0, 0)
	s := newStore(t, Config{
		Address:    c.Addresses(),
		RoleIDFile: secretFile(t, roleID, 0o600), SecretIDFile: secretFile(t, secretID, 0o600),
		Timeout: 20 * time.Second,
	})
	ctx := context.Background()

	const writers = 4
	var written [writers]atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				res := status.Result{Host: fmt.Sprintf("host%d", w), Outcome: status.Success, At: time.Unix(1_700_000_000+int64(i), 0), Message: fmt.Sprint(i)}
				if err := record(ctx, s, res); err != nil {
					t.Errorf("writer %d, write %d: %v", w, i, err)
					return
				}
				written[w].Store(int64(i))
			}
		})
	}
	waitWrites := func(more int64) {
		t.Helper()
		var from [writers]int64
		for w := range writers {
			from[w] = written[w].Load()
		}
		deadline := time.Now().Add(2 * time.Minute)
		for w := range writers {
			for written[w].Load() < from[w]+more {
				if time.Now().After(deadline) || t.Failed() {
					close(stop)
					wg.Wait()
					t.Fatalf("writer %d: no progress after the active node died (%d writes)", w, written[w].Load())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	waitWrites(3)
	first := c.KillLeader(t)
	waitWrites(3)
	first.Restart(t)
	c.KillLeader(t)
	waitWrites(3)
	close(stop)
	wg.Wait()

	for w := range writers {
		doc, err := s.Get(ctx, fmt.Sprintf("host%d", w))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := doc["message"], fmt.Sprint(written[w].Load()); got != want {
			t.Errorf("host%d: message %v, want %s: the last acknowledged write is not the stored one", w, got, want)
		}
	}
}

// TestFailoverValueTooLarge: an active node refusing a write for good
// (Raft's "value is too large" comes as a 500, the status of a node that
// cannot answer now) is answered at once, not retried on every node until
// the deadline: the caller turns it into a final error.
func TestFailoverValueTooLarge(t *testing.T) {
	var hits atomic.Int32
	active := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"errors":["put failed due to value being too large; got 1470223 bytes, max: 1048576 bytes"]}`)
	}))
	defer active.Close()
	f := newFailover(http.DefaultTransport.(*http.Transport).Clone(), []string{active.URL, active.URL + "/"})
	f.sleep = func(context.Context, time.Duration) bool { t.Error("waited for another round"); return false }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "PUT", active.URL+"/v1/kv/data/x", strings.NewReader("big"))
	resp, err := (&http.Client{Transport: f}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(b), "value being too large") {
		t.Errorf("got %d %q, want the node's 500 with its message", resp.StatusCode, b)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("node asked %d times, want 1", n)
	}
}

// TestValueTooLargeIsFinal: Raft's size refusal is not "unavailable": a
// result it refuses is an error at once, never spooled to be refused again.
func TestValueTooLargeIsFinal(t *testing.T) {
	err := &api.ResponseError{StatusCode: 500, Errors: []string{"put failed due to value being too large; got 1470223 bytes, max: 1048576 bytes"}}
	kind, reason := classify(err, "https://vault:8200")
	if kind == KindUnreachable || !strings.Contains(reason, "too large") {
		t.Errorf("classify = %v %q, want a final error saying too large", kind, reason)
	}
	if IsUnavailable(&Error{Kind: kind}) {
		t.Error("IsUnavailable: true, want false")
	}
	other := &api.ResponseError{StatusCode: 500, Errors: []string{"internal error"}}
	if kind, _ := classify(other, "https://vault:8200"); kind != KindUnreachable {
		t.Errorf("another 500: kind %v, want unreachable (tried again later)", kind)
	}
}
