// Package heartbeat reads a dead man's switch's /metrics (backupwatch
// deadman) into the state of the alerting path, as the status page and
// `backupwatch status` show it: whose heartbeats arrive, who is silent
// since when, or why the switch cannot be read.
package heartbeat

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Bounds on one read of a switch.
const (
	// Timeout bounds one read: a switch slower than that is unreachable
	// for this read.
	Timeout = 5 * time.Second
	// MaxBody bounds the /metrics read; deadman's is some 10 kB.
	MaxBody = 1 << 20
	// MaxName bounds a sender's name as kept (deadman takes 256 bytes).
	MaxName = 256
)

// The verdicts of a read, worst last.
const (
	Pending     = "pending"     // not read yet
	Starting    = "starting"    // the switch does not judge yet: it started less than its timeout ago
	Fine        = "fine"        // every sender's heartbeats arrive
	Partial     = "partial"     // some senders silent, not all: a warning
	Silent      = "silent"      // every sender silent: nothing reaches a person through Alertmanager
	Unreachable = "unreachable" // the switch could not be read
)

// Sender is one sender as the switch judges it.
type Sender struct {
	Name   string    // one line, at most MaxName runes
	Last   time.Time // its latest heartbeat; zero: none since the switch's state began
	Silent bool
}

// State is what one read of a switch found.
type State struct {
	Switch  string    // the switch's URL, without credentials
	Read    time.Time // when it was read; zero before the first read
	Err     string    // why it could not be read, one line, no credentials; "" when read
	Judging bool
	Timeout time.Duration // a sender is silent after this long without a heartbeat
	Senders []Sender      // sorted by name
}

// Verdict is the state in one word (see the constants).
func (s State) Verdict() string {
	switch n := s.SilentCount(); {
	case s.Read.IsZero():
		return Pending
	case s.Err != "":
		return Unreachable
	case !s.Judging:
		return Starting
	case n > 0 && n == len(s.Senders):
		return Silent
	case n > 0:
		return Partial
	default:
		return Fine
	}
}

// SilentCount is how many senders are silent.
func (s State) SilentCount() int {
	n := 0
	for _, snd := range s.Senders {
		if snd.Silent {
			n++
		}
	}
	return n
}

// Problem says whether the state is one a person is told about: every
// sender or some silent (deadman's page and warning), or the switch
// unreachable (BackupwatchDeadmanDown).
func (s State) Problem() bool {
	switch s.Verdict() {
	case Partial, Silent, Unreachable:
		return true
	}
	return false
}

// Reader reads one switch's /metrics.
type Reader struct {
	url     string // with its credentials: never shown
	shown   string // without them
	secrets []string
	client  *http.Client
}

// NewReader returns a reader of the switch at raw: deadman's base URL
// (/metrics is added) or its /metrics URL, http or https, with basic-auth
// credentials in it when the switch asks for them. roots, when not nil,
// are the CAs that signed the switch's certificate (exporter-toolkit's
// tls_server_config from a private CA): see LoadCA. No error holds the
// credentials.
func NewReader(raw string, roots *x509.CertPool) (*Reader, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %s", scrubURLText(raw))
	}
	var secrets []string
	if u.User != nil {
		// The user name alone is no secret, and too short a word to
		// cut out of every error; the password is cut wherever it shows.
		p, _ := u.User.Password()
		secrets = []string{u.User.String(), p}
	}
	shown := *u
	shown.User = nil
	switch {
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, fmt.Errorf("want an http:// or https:// URL, not %s", shown.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("want no query or fragment in %s", shown.Scheme+"://"+shown.Host+shown.Path)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path, shown.Path = "/metrics", "/metrics"
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	// One read a minute or so: a kept connection saves nothing, and a
	// stale one would fail a read.
	t.DisableKeepAlives = true
	return &Reader{
		url: u.String(), shown: shown.String(), secrets: secrets,
		client: &http.Client{
			Transport: t,
			Timeout:   Timeout,
			// A redirect is an answer, not followed: the credentials
			// go nowhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// LoadCA reads the PEM CAs of a switch's certificate from file.
func LoadCA(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read the CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// String is the switch's URL without credentials.
func (r *Reader) String() string { return r.shown }

// Read reads the switch once, within Timeout. It never fails: a switch
// that cannot be read is a State with Err set.
func (r *Reader) Read(ctx context.Context) State {
	st := State{Switch: r.shown}
	err := r.read(ctx, &st)
	st.Read = time.Now()
	if err != nil {
		st.Err = r.scrub(err.Error())
		st.Senders, st.Judging = nil, false
	}
	return st
}

func (r *Reader) read(ctx context.Context, st *State) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text repeats the URL
			err = ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized && len(r.secrets) == 0:
		return fmt.Errorf("answered %s: the switch asks for basic auth; put USER:PASSWORD in the URL (never shown)", resp.Status)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("answered %s: the credentials in the URL were refused", resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	if len(body) > MaxBody {
		return fmt.Errorf("its answer is larger than %d bytes: not a dead man's switch's /metrics", MaxBody)
	}
	return parse(body, st)
}

// parse reads deadman's metrics out of the text exposition format.
func parse(body []byte, st *State) error {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return fmt.Errorf("not Prometheus' text format: %s", oneLine(err.Error(), 200))
	}
	judging := fams["backupwatch_deadman_judging"]
	if judging == nil || len(judging.GetMetric()) == 0 {
		return errors.New("no backupwatch_deadman_judging in its /metrics: not a backupwatch deadman")
	}
	st.Judging = value(judging.GetMetric()[0]) == 1
	if f := fams["backupwatch_deadman_timeout_seconds"]; f != nil && len(f.GetMetric()) > 0 {
		if v := value(f.GetMetric()[0]); v > 0 && v < 1e9 {
			st.Timeout = time.Duration(v * float64(time.Second))
		}
	}
	bySender := map[string]*Sender{}
	get := func(m *dto.Metric) *Sender {
		name := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "sender" {
				name = oneLine(l.GetValue(), MaxName)
			}
		}
		s := bySender[name]
		if s == nil {
			s = &Sender{Name: name}
			bySender[name] = s
		}
		return s
	}
	// Every sender has its silent series; the timestamp only once heard.
	for _, m := range fams["backupwatch_deadman_sender_silent"].GetMetric() {
		get(m).Silent = value(m) == 1
	}
	for _, m := range fams["backupwatch_deadman_last_heartbeat_timestamp_seconds"].GetMetric() {
		if v := value(m); v > 0 && v < 1e11 {
			get(m).Last = time.UnixMilli(int64(v * 1000)).UTC()
		}
	}
	for _, s := range bySender {
		st.Senders = append(st.Senders, *s)
	}
	slices.SortFunc(st.Senders, func(a, b Sender) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

func value(m *dto.Metric) float64 {
	var v float64
	switch {
	case m.GetGauge() != nil:
		v = m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		v = m.GetUntyped().GetValue()
	case m.GetCounter() != nil:
		v = m.GetCounter().GetValue()
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// scrub removes the credentials from an error's text, should any part of
// it repeat them, and makes it one bounded line.
func (r *Reader) scrub(s string) string {
	for _, sec := range r.secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<hidden>")
			s = strings.ReplaceAll(s, url.PathEscape(sec), "<hidden>")
		}
	}
	return oneLine(s, 300)
}

// scrubURLText is a URL that did not parse, shown without what could be
// credentials (anything before an @).
func scrubURLText(raw string) string {
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			raw = raw[:j+3] + "<hidden>" + raw[i:]
		} else {
			raw = "<hidden>" + raw[i:]
		}
	}
	return fmt.Sprintf("%q", oneLine(raw, 100))
}

// oneLine is s on one line: control and direction-changing characters
// dropped (a name cannot break or reorder the text it is shown in), at
// most n runes, with "…" when cut.
func oneLine(s string, n int) string {
	cut := false
	if len(s) > 4*n+4 { // a megabyte costs no more than a line
		s, cut = s[:4*n+4], true
	}
	var b strings.Builder
	runes := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' || r == '\uFEFF' {
			r = ' '
		}
		if runes == n {
			cut = true
			break
		}
		b.WriteRune(r)
		runes++
	}
	out := strings.TrimSpace(b.String())
	if cut {
		out += "…"
	}
	return out
}
