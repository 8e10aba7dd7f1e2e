// Package nudge is how `record`, `run` and `restore-test` tell `serve` that
// a record has just been written: POST /-/nudge?host=H[&job=J] to each
// exporter URL, and serve reads that record again at once instead of at its
// next full refresh (see internal/collector's nudge.go for the reads and
// their bounds). A nudge names a record only (host=restore-test for the
// restore test's), with no result: it can make serve read, never make it
// believe anything. Sending is best effort: a nudge that fails is logged
// and the new value waits for the next full refresh.
package nudge

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Path is where serve takes nudges.
const Path = "/-/nudge"

// Handler takes nudges: POST with the record in the query or form (host,
// and job for a job's record; host=restore-test for the restore test's).
// It answers 202 when the nudge is queued (or one for the record already
// waits), 503 when its queue is full, 400 for a bad name, 405 for another
// method. nudge is told the client (Client) and the record, and returns
// false when the queue is full.
func Handler(nudge func(client string, id status.JobID) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST "+Path+"?host=HOST[&job=JOB]", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		id := status.JobID{Host: r.FormValue("host"), Job: r.FormValue("job")}
		if err := ValidateTarget(id); err != nil {
			http.Error(w, "bad nudge: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !nudge(Client(r), id) {
			w.Header().Set("Retry-After", "60")
			http.Error(w, "too many nudges waiting; the next full refresh reads the record", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "Accepted.")
	})
}

// ValidateTarget checks what a nudge names: a host (or the restore test's
// key) and, for a job's record, a job.
func ValidateTarget(id status.JobID) error {
	if id.Host != status.RestoreTestKey {
		if err := status.ValidateHost(id.Host); err != nil {
			return err
		}
	}
	if id.Job != "" {
		return status.ValidateJob(id.Job)
	}
	return nil
}

// Client names the client a nudge came from, as serve bounds nudges: its
// IP address, an IPv6 one by its /64 (what one machine or one site gets,
// so that a client cannot take more room by changing addresses in it).
func Client(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		h = r.RemoteAddr
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return h
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ValidateURLs checks a comma-separated list of exporter base URLs
// (http(s)://host:port, as serve's --web.listen-address serves).
func ValidateURLs(list string) error {
	for _, u := range Split(list) {
		p, err := url.Parse(u)
		switch {
		case err != nil:
			// url.Parse quotes the URL in its error, credentials and all.
			return fmt.Errorf("is not a URL: want http://HOST:PORT of a backupwatch serve")
		case p.User != nil:
			return fmt.Errorf("%q: no credentials in it (a command line is seen by every user of the machine): put USER:PASSWORD in the file given to --exporter.basic-auth-file", status.Truncate(p.Redacted(), 80))
		case (p.Scheme != "http" && p.Scheme != "https") || p.Host == "":
			return fmt.Errorf("%q: want http://HOST:PORT of a backupwatch serve", status.Truncate(u, 80))
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
