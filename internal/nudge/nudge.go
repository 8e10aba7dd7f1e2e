// Package nudge is how `record` and `run` tell `serve` that a host's record
// has just been written: POST /-/nudge?host=H to each exporter URL, and
// serve reads that host again at once instead of at its next full refresh
// (see internal/collector's nudge.go for the reads and their bounds). A
// nudge carries a host name only, no credentials and no result: it can
// make serve read, never make it believe anything. Sending is best effort:
// a nudge that fails is logged and the host's new value waits for the
// next full refresh.
package nudge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Path is where serve takes nudges.
const Path = "/-/nudge"

// Timeout bounds one nudge to one exporter.
const Timeout = 2 * time.Second

// Handler takes nudges: POST with the host in the query or form. It
// answers 202 when the nudge is queued (or one for the host already
// waits), 503 when the queue is full, 400 for a bad host name, 405 for
// another method. nudge returns false when the queue is full.
func Handler(nudge func(host string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST "+Path+"?host=HOST", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		host := r.FormValue("host")
		if err := status.ValidateHost(host); err != nil {
			http.Error(w, "bad host: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !nudge(host) {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "too many nudges waiting; the next full refresh reads the host", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "Accepted.")
	})
}

// ValidateURLs checks a comma-separated list of exporter base URLs
// (http(s)://host:port, as serve's --web.listen-address serves).
func ValidateURLs(list string) error {
	for _, u := range Split(list) {
		p, err := url.Parse(u)
		switch {
		case err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "":
			return fmt.Errorf("%q: want http://HOST:PORT of a backupwatch serve", status.Truncate(u, 80))
		case p.User != nil:
			return fmt.Errorf("%q: no credentials in it: a nudge needs none", status.Truncate(p.Redacted(), 80))
		case p.RawQuery != "" || p.Fragment != "":
			return fmt.Errorf("%q: no query or fragment", status.Truncate(u, 80))
		}
	}
	return nil
}

// Split splits a comma-separated list, dropping empty elements.
func Split(list string) []string {
	var out []string
	for u := range strings.SplitSeq(list, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, strings.TrimRight(u, "/"))
		}
	}
	return out
}

// Sender nudges exporters in the background; Wait waits for what was sent.
type Sender struct {
	URLs   []string
	Logger *slog.Logger
	Client *http.Client // http.DefaultClient's transport if nil

	wg sync.WaitGroup
}

// Send nudges every exporter about host, in the background.
func (s *Sender) Send(host string) {
	if s == nil || len(s.URLs) == 0 {
		return
	}
	for _, u := range s.URLs {
		s.wg.Go(func() {
			if err := s.one(u, host); err != nil && s.Logger != nil {
				s.Logger.Warn("exporter not nudged: it shows this result at its next full refresh", "exporter", u, "host", host, "err", err)
			}
		})
	}
}

func (s *Sender) one(base, host string) error {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+Path+"?host="+url.QueryEscape(host), nil)
	if err != nil {
		return err
	}
	c := s.Client
	if c == nil {
		c = &http.Client{}
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// Wait waits for every nudge sent to finish (each is bounded by Timeout).
func (s *Sender) Wait() {
	if s != nil {
		s.wg.Wait()
	}
}
