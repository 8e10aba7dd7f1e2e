package vaultkv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// A Vault HA cluster (integrated Raft storage, or Consul) has one active
// node; the others are standbys that forward requests to it, and answer
// 307 (a redirect to the active node's api_addr) or 5xx while they cannot:
// for the seconds between the active node's death and a new election, a
// standby redirects to the dead node or answers "no active Vault instance
// found". Vault's client follows one redirect and gives up, and knows one
// address. So --vault.address takes the cluster's nodes, comma-separated,
// and the store's requests go through failover: a request is sent to the
// node that last answered; a connection error, a 307, 500, 502, 503 or 504
// sends it to the next node (to the redirect's target first, when that is
// one of them); when every node has failed, it waits (100 ms, doubling, at
// most 1 s) and goes round again, until the request's deadline
// (--vault.timeout). A request is only retried when nothing useful came
// back, and every one the store makes is safe to repeat: reads, lists and
// deletes are idempotent, a KV v2 write is a check-and-set (a repeat after
// a write that did land fails the check and Update reads and merges again),
// a KV v1 write writes the same record again, a repeated login makes one
// more token.

// failoverDialTimeout bounds connecting to one node, so that a node whose
// machine is gone (no RST, packets dropped) costs 3 s of the request's
// deadline, not all of it.
const failoverDialTimeout = 3 * time.Second

// failover is the http.RoundTripper of a store with several addresses.
type failover struct {
	base  http.RoundTripper
	nodes []*url.URL // scheme and host of each node
	cur   atomic.Int32
	sleep func(context.Context, time.Duration) bool
}

// splitAddresses splits a comma-separated --vault.address; one address
// gives one element.
func splitAddresses(addr string) []string {
	if !strings.Contains(addr, ",") {
		return []string{addr}
	}
	var out []string
	for a := range strings.SplitSeq(addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// validateAddresses checks a list of node addresses: each one a valid
// address, http or https, all with the same scheme and path, none twice.
func validateAddresses(addrs []string) error {
	if len(addrs) == 0 {
		return fmt.Errorf("--vault.address %q: no address in the list", shownAddress(strings.Join(addrs, ",")))
	}
	seen := map[string]bool{}
	var first *url.URL
	for _, a := range addrs {
		if err := validateAddress(a); err != nil {
			return err
		}
		if len(addrs) == 1 {
			return nil
		}
		u, _ := url.Parse(a) // validated
		if u.Scheme == "unix" {
			return fmt.Errorf("--vault.address %q: a unix socket cannot be one of several nodes", shownAddress(a))
		}
		if first == nil {
			first = u
		} else if u.Scheme != first.Scheme || strings.TrimRight(u.Path, "/") != strings.TrimRight(first.Path, "/") {
			return fmt.Errorf("--vault.address %q: the nodes of one cluster need one scheme and path, like %q", shownAddress(a), shownAddress(first.String()))
		}
		if seen[u.Host] {
			return fmt.Errorf("--vault.address %q: listed twice", shownAddress(a))
		}
		seen[u.Host] = true
	}
	return nil
}

// newFailover wraps base (the Vault client's transport) for the given
// validated addresses.
func newFailover(base http.RoundTripper, addrs []string) *failover {
	f := &failover{base: base, sleep: sleepCtx}
	for _, a := range addrs {
		u, _ := url.Parse(a)
		f.nodes = append(f.nodes, &url.URL{Scheme: u.Scheme, Host: u.Host})
	}
	if t, ok := base.(*http.Transport); ok {
		d := &net.Dialer{Timeout: failoverDialTimeout, KeepAlive: 30 * time.Second}
		t.DialContext = d.DialContext
	}
	return f
}

func (f *failover) index(host string) int {
	for i, n := range f.nodes {
		if n.Host == host {
			return i
		}
	}
	return -1
}

// RoundTrip sends req to the nodes in turn, as described above.
func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.index(req.URL.Host) < 0 {
		return f.base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	ctx := req.Context()
	next := int(f.cur.Load())
	var lastResp *http.Response
	var lastErr error
	keep := func(resp *http.Response, err error) {
		if lastResp != nil {
			io.Copy(io.Discard, io.LimitReader(lastResp.Body, 64<<10))
			lastResp.Body.Close()
		}
		lastResp, lastErr = resp, err
	}
	wait := 100 * time.Millisecond
	for round := 0; ; round++ {
		for range f.nodes {
			n := next
			resp, err := f.base.RoundTrip(f.to(req, n, body))
			if err == nil && (!retryable(resp.StatusCode) || refusedForGood(resp)) {
				keep(nil, nil)
				f.cur.Store(int32(n))
				return resp, nil
			}
			keep(resp, err)
			if ctx.Err() != nil {
				return lastResp, lastErr
			}
			next = (n + 1) % len(f.nodes)
			if resp != nil && resp.StatusCode == http.StatusTemporaryRedirect {
				if loc, err := resp.Location(); err == nil {
					if j := f.index(loc.Host); j >= 0 && j != n {
						next = j
					}
				}
			}
		}
		deadline, ok := ctx.Deadline()
		if !ok && round >= 2 || ok && time.Until(deadline) < wait || !f.sleep(ctx, wait) {
			return lastResp, lastErr
		}
		wait = min(2*wait, time.Second)
	}
}

// to is req addressed to node n, with its own copy of the body.
func (f *failover) to(req *http.Request, n int, body []byte) *http.Request {
	r := req.Clone(req.Context())
	u := *req.URL
	u.Scheme, u.Host = f.nodes[n].Scheme, f.nodes[n].Host
	r.URL, r.Host = &u, ""
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	return r
}

// refusedForGood says whether a 500 is a refusal that no other node and no
// later try would change: Raft storage refusing a value over its entry size
// limit (Vault's physical.ErrValueTooLarge, "put failed due to value being
// too large; got N bytes, max: M bytes"). Its body is read (bounded) and
// put back.
func refusedForGood(resp *http.Response) bool {
	if resp.StatusCode != http.StatusInternalServerError || resp.Body == nil {
		return false
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return bytes.Contains(b, []byte("value being too large"))
}

// retryable says whether a node's answer means "not me, not now".
func retryable(code int) bool {
	switch code {
	case http.StatusTemporaryRedirect, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
