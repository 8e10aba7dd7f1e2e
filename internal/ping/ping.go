package ping

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of one ping.
const (
	// MaxBody is the most a ping's body carries: healthchecks.io keeps at
	// most 100 kB of it.
	MaxBody = 100_000
	// Budget is the most one ping may take, its retries included: a
	// checker that is down or hangs never holds a backup longer.
	Budget = 10 * time.Second
	// Attempts is how many times a ping is tried within its budget.
	Attempts = 3
	// maxMsg bounds Uptime Kuma's msg, sent in the query.
	maxMsg = 400
)

// Pinger pings one checker for one run. Its zero Budget and Attempts are
// the package's; a nil Client is one of its own.
type Pinger struct {
	Kind     string // Healthchecks or UptimeKuma
	URL      string
	Client   *http.Client
	Budget   time.Duration
	Attempts int
	Logger   *slog.Logger
	// Backoff is the pause before the second attempt, doubled after; 500ms
	// when zero.
	Backoff time.Duration

	rid      string
	start    chan struct{} // closed when the start ping is done
	startAt  time.Time
	failures atomic.Int64
	once     sync.Once
}

// New is a pinger of kind for the URL, both checked, with a new run id.
func New(kind, rawURL string, log *slog.Logger) (*Pinger, error) {
	if err := CheckKind(kind); err != nil {
		return nil, err
	}
	if err := CheckURL(rawURL); err != nil {
		return nil, err
	}
	return &Pinger{Kind: kind, URL: strings.TrimSpace(rawURL), Logger: log}, nil
}

// RunID is the run id sent with each of this run's pings (healthchecks'
// rid, a UUID), so that overlapping runs of one check are told apart.
func (p *Pinger) RunID() string {
	p.once.Do(func() { p.rid = newUUID() })
	return p.rid
}

// Failures is how many of the pinger's pings failed after every attempt.
func (p *Pinger) Failures() int64 { return p.failures.Load() }

// Start sends the start ping, with body (what is run), beside the run: it
// returns at once, and End waits for it, so that the checker sees the
// start before the end.
func (p *Pinger) Start(ctx context.Context, body string) {
	p.startAt = time.Now()
	p.start = make(chan struct{})
	if p.Kind == UptimeKuma {
		close(p.start) // a push monitor has no start
		return
	}
	go func() {
		defer close(p.start)
		p.send(ctx, "start", "start", Bound(body, MaxBody))
	}()
}

// End sends how the run ended: ok, its exit code and body (the reason
// recorded and the tail of the output; cut to MaxBody, its end kept). It
// returns when the ping is done, within the budget (plus what is left of
// the start's).
func (p *Pinger) End(ctx context.Context, ok bool, exitCode int, body string) {
	if p.start != nil {
		<-p.start
	}
	what := "success"
	if !ok {
		what = "fail"
	}
	if p.Kind == UptimeKuma {
		p.send(ctx, what, what, body)
		return
	}
	p.send(ctx, what, what, Bound(body, MaxBody))
}

// send tries one ping until it is answered or its budget is spent.
func (p *Pinger) send(ctx context.Context, event, suffix, body string) {
	budget := p.Budget
	if budget <= 0 {
		budget = Budget
	}
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = Attempts
	}
	backoff := p.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	// The run's own cancellation (a signal) is exactly when the checker
	// must still hear of it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	var err error
	for i := range attempts {
		if i > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			backoff *= 2
			if ctx.Err() != nil {
				break
			}
		}
		var retry bool
		retry, err = p.try(ctx, suffix, body)
		if err == nil || !retry {
			break
		}
	}
	if err == nil {
		return
	}
	p.failures.Add(1)
	if p.Logger != nil {
		p.Logger.Warn("ping to the checker failed: the run goes on, its outcome is recorded as it is", "kind", p.Kind, "event", event, "err", err)
	}
}

// try sends one request; retry says whether another attempt may succeed.
func (p *Pinger) try(ctx context.Context, suffix, body string) (retry bool, err error) {
	req, err := p.request(ctx, suffix, body)
	if err != nil {
		return false, err
	}
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error quotes the URL: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return false, fmt.Errorf("no answer within %s", p.budget())
		}
		return true, fmt.Errorf("send ping: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, fmt.Errorf("checker answered %s", resp.Status)
	case resp.StatusCode >= 300:
		return false, fmt.Errorf("checker answered %s (is the URL right?)", resp.Status)
	case p.Kind == UptimeKuma && bytes.Contains(bytes.ReplaceAll(answer, []byte(" "), nil), []byte(`"ok":false`)):
		return false, errors.New("uptime kuma refused the push (is the monitor active?)")
	}
	return false, nil
}

func (p *Pinger) budget() time.Duration {
	if p.Budget > 0 {
		return p.Budget
	}
	return Budget
}

// request builds the ping of the event suffix (start, success, fail).
func (p *Pinger) request(ctx context.Context, suffix, body string) (*http.Request, error) {
	u, err := url.Parse(p.URL)
	if err != nil {
		return nil, errors.New("ping URL cannot be parsed as a URL")
	}
	q := u.Query()
	if p.Kind == UptimeKuma {
		status := "up"
		if suffix == "fail" {
			status = "down"
		}
		q.Set("status", status)
		q.Set("msg", kumaMsg(body, suffix))
		if !p.startAt.IsZero() {
			q.Set("ping", strconv.FormatInt(time.Since(p.startAt).Milliseconds(), 10))
		}
		u.RawQuery = q.Encode()
		return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	}
	switch suffix {
	case "start", "fail":
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + suffix
		u.RawPath = ""
	}
	q.Set("rid", p.RunID())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, errors.New("build the ping request")
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	return req, nil
}

// kumaMsg is the reason at the head of body (up to its first blank line,
// the output's tail is not for a one-line message), cut to fit Uptime
// Kuma's message.
func kumaMsg(body, suffix string) string {
	head, _, _ := strings.Cut(body, "\n\n")
	msg := strings.TrimSpace(head)
	if msg == "" {
		msg = map[string]string{"success": "OK", "fail": "failed"}[suffix]
	}
	if len(msg) > maxMsg {
		msg = strings.ToValidUTF8(msg[:maxMsg-3], "") + "..."
	}
	return msg
}

// Bound cuts s to at most n bytes keeping its start (the reason) up to a
// first blank line and as much of its end (the latest output) as fits.
func Bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const cut = "\n[... earlier output cut ...]\n"
	head, _, found := strings.Cut(s, "\n\n")
	if !found || len(head) > n/2 {
		head = ""
	}
	room := n - len(head) - len(cut)
	tail := s[len(s)-room:]
	if i := strings.IndexByte(tail, '\n'); i >= 0 && i < 200 {
		tail = tail[i+1:]
	}
	return strings.ToValidUTF8(head+cut+tail, "")
}

// newUUID is a random (version 4) UUID, as healthchecks' rid wants.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
