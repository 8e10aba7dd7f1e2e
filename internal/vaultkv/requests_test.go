package vaultkv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// countingProxy is a reverse proxy in front of a real Vault that counts
// the KV requests going through it (login and mount detection aside).
type countingProxy struct {
	mu   sync.Mutex
	reqs []string
}

func startCountingProxy(t *testing.T, addr string) (*countingProxy, string) {
	t.Helper()
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/sys/") && !strings.HasPrefix(r.URL.Path, "/v1/auth/") {
			c.mu.Lock()
			c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
			c.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// take returns the requests counted since the last take.
func (c *countingProxy) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reqs
	c.reqs = nil
	return r
}

// TestRequestsPerResult: on KV v2, a result costs what it cost before
// the history, the record's read and check-and-set write (issue 21's "a
// write stays one request where it was one"): the record's versions are
// the history. The first result also sets the key's max_versions, once;
// a redelivery is the read alone. KV v1 keeps the history in its side key
// by read-merge-write. The history reads back whole, in order, with an
// old side key's entries.
func TestRequestsPerResult(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	proxy, addr := startCountingProxy(t, v.Addr)
	base := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	for _, tc := range []struct {
		mount           string
		first, next     int // requests of the first result and of each next one
		redeliver       int
		oldSideKeyField bool
	}{
		{mount: "kv", first: 3, next: 2, redeliver: 1},
		{mount: "kv1", first: 4, next: 4, redeliver: 2},
	} {
		t.Run(tc.mount, func(t *testing.T) {
			s := newStore(t, Config{Address: addr, Token: v.RootToken, Mount: tc.mount, Prefix: "requests"})
			if err := s.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			// A side key written before the slots: its entries stay.
			old := status.FormatHistory([]status.Entry{{At: base.Add(-time.Hour), Outcome: status.Failed, Reason: "from before"}})
			if _, err := v.Client(t).Logical().Write(s.dataPath(map[string]int{"kv": 2, "kv1": 1}[tc.mount], status.SideKey("db", status.SideHistory)), wrapData(tc.mount, map[string]any{status.FieldHistory: old})); err != nil {
				t.Fatal(err)
			}
			proxy.take()
			const n = status.HistoryLen + 3
			var res status.Result
			for i := range n {
				res = status.Result{Host: "db", Outcome: []string{status.Success, status.Failed}[i%2], At: base.Add(time.Duration(i) * time.Minute), Message: "run " + string(rune('a'+i%26))}
				update(t, s, res)
				got := proxy.take()
				want := tc.next
				if i == 0 {
					want = tc.first
				}
				if len(got) != want {
					t.Errorf("result %d: %d requests %q, want %d", i, len(got), got, want)
				}
			}
			update(t, s, res) // a redelivery
			if got := proxy.take(); len(got) != tc.redeliver {
				t.Errorf("redelivery: %d requests %q, want %d", len(got), got, tc.redeliver)
			}
			doc, err := s.Detail(ctx, "db")
			if err != nil {
				t.Fatal(err)
			}
			h, problems := status.History(doc)
			if len(h) != status.HistoryLen || len(problems) > 0 {
				t.Fatalf("history: %d entries, problems %v; want %d", len(h), problems, status.HistoryLen)
			}
			for i, e := range h {
				if want := base.Add(time.Duration(n-status.HistoryLen+i) * time.Minute); !e.At.Equal(want) {
					t.Errorf("entry %d at %s, want %s", i, e.At, want)
				}
			}
			rec, err := s.Get(ctx, "db")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := rec[status.FieldHistory]; ok {
				t.Error("the record holds the history: serve's refresh would read it")
			}
		})
	}
}

func wrapData(mount string, data map[string]any) map[string]any {
	if mount == "kv" {
		return map[string]any{"data": data}
	}
	return data
}

func update(t *testing.T, s *Store, res status.Result) {
	t.Helper()
	if err := s.Update(context.Background(), res.Key(), func(old map[string]any) (map[string]any, bool, error) {
		doc, changed := status.Apply(old, res)
		return doc, changed, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestHistoryConcurrentWriters: two writers recording results of one
// record at once on KV v2 lose none of them in the history: each entry
// goes to the slot of the version its check-and-set won.
func TestHistoryConcurrentWriters(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	const each = 12
	var wg sync.WaitGroup
	for w := range 2 {
		s := newStore(t, Config{Address: v.Addr, Token: v.RootToken, Prefix: "concurrent"})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				res := status.Result{Host: "db", Outcome: status.Success, At: base.Add(time.Duration(2*i+w) * time.Second)}
				if err := s.Update(ctx, res.Key(), func(old map[string]any) (map[string]any, bool, error) {
					doc, changed := status.Apply(old, res)
					return doc, changed, nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s := newStore(t, Config{Address: v.Addr, Token: v.RootToken, Prefix: "concurrent"})
	doc, err := s.Detail(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if h, problems := status.History(doc); len(h) != 2*each || len(problems) > 0 {
		t.Errorf("history: %d entries, problems %v; want %d", len(h), problems, 2*each)
	}
}

// TestHistoryLateResult: on KV v2, a result delivered late (older than the
// status, which stays) is in no version of the record: it goes to the side
// key, and the history reads back with it in its place, once, however
// often it is delivered.
func TestHistoryLateResult(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	s := newStore(t, Config{Address: v.Addr, Token: v.RootToken, Prefix: "late"})
	base := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	for _, res := range []status.Result{
		{Host: "db", Outcome: status.Success, At: base},
		{Host: "db", Outcome: status.Success, At: base.Add(2 * time.Hour)},
		{Host: "db", Outcome: status.Failed, At: base.Add(time.Hour), Message: "late"},
		{Host: "db", Outcome: status.Failed, At: base.Add(time.Hour), Message: "late"},
	} {
		update(t, s, res)
	}
	doc, err := s.Detail(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if r := status.Parse("db", doc); r.Status != status.Success {
		t.Errorf("status %q, want the latest result's, success", r.Status)
	}
	h, problems := status.History(doc)
	var got []string
	for _, e := range h {
		got = append(got, e.Outcome+" "+e.At.Sub(base).String())
	}
	if want := "success 0s,failed 1h0m0s,success 2h0m0s"; strings.Join(got, ",") != want || len(problems) > 0 {
		t.Errorf("history %q, problems %v; want %s", got, problems, want)
	}
}

// TestHistoryWriterPolicy: a host logged in with the shipped writer
// policy sets its keys' max_versions (the mount keeps 10 versions), so
// its record and its job's keep status.HistoryLen results in their
// versions, and the exporter's policy reads them back.
func TestHistoryWriterPolicy(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	v.PutShippedPolicies(t, "backupwatch-writer", "backupwatch-exporter")
	id, secret := v.AppRole(t, "db", []string{"backupwatch-writer"}, time.Hour, 0)
	w := newStore(t, Config{Address: v.Addr, Mount: "kv", RoleIDFile: secretFile(t, id, 0o600), SecretIDFile: secretFile(t, secret, 0o600)})
	id, secret = v.AppRole(t, "exporter", []string{"backupwatch-exporter"}, time.Hour, 0)
	r := newStore(t, Config{Address: v.Addr, Mount: "kv", RoleIDFile: secretFile(t, id, 0o600), SecretIDFile: secretFile(t, secret, 0o600)})
	base := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
	for _, job := range []string{"", "files"} {
		for i := range status.HistoryLen + 2 {
			update(t, w, status.Result{Host: "db", Job: job, Outcome: status.Success, At: base.Add(time.Duration(i) * time.Minute)})
		}
		doc, err := r.Detail(ctx, status.Key("db", job))
		if err != nil {
			t.Fatal(err)
		}
		if h, problems := status.History(doc); len(h) != status.HistoryLen || len(problems) > 0 {
			t.Errorf("job %q: history of %d entries, problems %v; want %d", job, len(h), problems, status.HistoryLen)
		}
	}
}
