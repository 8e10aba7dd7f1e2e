package amconfig

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Post is one request Alertmanager made to a channel's stand-in.
type Post struct {
	Path, RawQuery, Auth string
	Body                 []byte
}

// Stub stands in for every channel's API at once, telling them apart by
// path (Prefix), and answers as each does on success.
type Stub struct {
	URL string // where Receivers points the snippets

	mu    sync.Mutex
	posts []Post
}

// NewStub starts a stand-in, closed when the test ends.
func NewStub(t testing.TB) *Stub {
	s := &Stub{}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *Stub) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.posts = append(s.posts, Post{r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), b})
	s.mu.Unlock()
	switch {
	case strings.HasPrefix(r.URL.Path, "/pagerduty"):
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"x"}`)
	case strings.HasPrefix(r.URL.Path, "/opsgenie"):
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"result":"Request will be processed","took":0.1,"requestId":"x"}`)
	default:
		io.WriteString(w, "ok")
	}
}

// Posts returns the posts whose path starts with prefix, from the
// from-th post on (0: all).
func (s *Stub) Posts(prefix string, from int) []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Post
	for _, p := range s.posts[from:] {
		if strings.HasPrefix(p.Path, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// Len is how many posts have come, for a later Posts' from.
func (s *Stub) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.posts)
}
