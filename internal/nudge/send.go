package nudge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Timeout bounds one nudge to one exporter.
const Timeout = 2 * time.Second

// BasicAuth are the credentials of a serve protected by basic auth
// (exporter-toolkit's web config). Its String never shows the password.
type BasicAuth struct {
	Username string
	Password string
}

func (a BasicAuth) String() string { return a.Username + ":<hidden>" }

// ParseBasicAuth reads USER:PASSWORD, as a basic auth file holds it (one
// line; the password may hold ':'). The content is never part of an error.
func ParseBasicAuth(content string) (BasicAuth, error) {
	content = strings.TrimRight(content, "\r\n")
	user, pass, ok := strings.Cut(content, ":")
	switch {
	case !ok:
		return BasicAuth{}, errors.New("want one line USER:PASSWORD, found no ':'")
	case strings.ContainsAny(content, "\r\n"):
		return BasicAuth{}, errors.New("want one line USER:PASSWORD, found several lines")
	case user == "":
		return BasicAuth{}, errors.New("the user name (before ':') is empty")
	case pass == "":
		return BasicAuth{}, errors.New("the password (after ':') is empty")
	}
	return BasicAuth{Username: user, Password: pass}, nil
}

// NewClient returns the HTTP client nudges are sent with: verifying serve's
// TLS certificate against the CAs in caFile (PEM) when it is given (a
// private CA, as exporter-toolkit's web config serves), the system's
// otherwise.
func NewClient(caFile string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t}, nil
}

// Sender nudges exporters in the background; Wait waits for what was sent.
type Sender struct {
	URLs   []string
	Logger *slog.Logger
	Client *http.Client // NewClient("") if nil
	Auth   *BasicAuth   // sent to every URL when set

	wg sync.WaitGroup
}

// Send nudges every exporter about the record id (status.RestoreTestKey as
// the host for a restore test's), in the background.
func (s *Sender) Send(id status.JobID) {
	if s == nil || len(s.URLs) == 0 {
		return
	}
	for _, u := range s.URLs {
		s.wg.Go(func() {
			if err := s.one(u, id); err != nil && s.Logger != nil {
				s.Logger.Warn("exporter not nudged: it shows this result at its next full refresh", "exporter", u, "host", id.Host, "job", id.Job, "err", err)
			}
		})
	}
}

// Query is the query string of a nudge about id.
func Query(id status.JobID) string {
	q := url.Values{"host": {id.Host}}
	if id.Job != "" {
		q.Set("job", id.Job)
	}
	return q.Encode()
}

func (s *Sender) one(base string, id status.JobID) error {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+Path+"?"+Query(id), nil)
	if err != nil {
		return err
	}
	if s.Auth != nil {
		req.SetBasicAuth(s.Auth.Username, s.Auth.Password)
	}
	c := s.Client
	if c == nil {
		if c, err = NewClient(""); err != nil {
			return err
		}
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
	switch {
	case resp.StatusCode == http.StatusAccepted:
		return nil
	case resp.StatusCode == http.StatusUnauthorized && s.Auth == nil:
		return fmt.Errorf("answered %s: serve asks for basic auth; give its credentials with --exporter.basic-auth-file", resp.Status)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("answered %s: the credentials of --exporter.basic-auth-file were refused", resp.Status)
	}
	return fmt.Errorf("answered %s", resp.Status)
}

// Wait waits for every nudge sent to finish (each is bounded by Timeout).
func (s *Sender) Wait() {
	if s != nil {
		s.wg.Wait()
	}
}
