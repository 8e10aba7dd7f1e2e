// Package inflight bounds the requests an HTTP handler serves at once.
// Beyond the bound a request waits for its turn, in arrival order, for a
// bounded time; when too many wait already, or its wait is over, it is
// answered 503 Service Unavailable with Retry-After. A flood of scrapes or
// page loads then costs a bounded amount of memory and CPU, and cannot
// starve the work that keeps the answers current.
//
// It does what client_golang's promhttp.HandlerOpts.MaxRequestsInFlight
// does (a semaphore, 503 beyond it) and more: requests queue for a while
// instead of failing at the first collision, the 503 says when to retry,
// the wait never outlasts the scrape timeout a Prometheus server announces,
// a client that stops reading loses its turn after a write timeout, and
// the limiter exports what it does.
package inflight

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Limiter. Max must be at least 1; zero values of the
// others take the defaults below.
type Options struct {
	// Name names the handler: the handler label of the metrics.
	Name string
	// Max is how many requests are served at once.
	Max int
	// Queue is how many requests may wait for their turn beyond Max; more
	// are refused at once.
	Queue int
	// MaxWait is the longest a request waits for its turn. A Prometheus
	// server's request waits at most half the scrape timeout it announces
	// (X-Prometheus-Scrape-Timeout-Seconds), so that it is answered in time.
	MaxWait time.Duration
	// WriteTimeout bounds the writing of a response once it is served, so
	// that a client that stops reading frees its turn; a scraper that
	// announces a longer scrape timeout gets that. Negative: no bound.
	WriteTimeout time.Duration
	Logger       *slog.Logger
}

// Defaults, in one place.
const (
	DefaultMaxWait      = 5 * time.Second
	DefaultWriteTimeout = time.Minute
	// DefaultQueuePerSlot sizes the queue when Options.Queue is zero.
	DefaultQueuePerSlot = 16
	// logEvery spaces the warnings about refused requests.
	logEvery = time.Minute
)

// Reasons for refusing a request, the reason label of the refused counter.
const (
	ReasonQueueFull = "queue_full" // Queue requests were waiting already
	ReasonWait      = "wait"       // no turn came within the wait
	reasonGone      = "gone"       // the client went away while waiting: not counted, not answered
)

// Limiter bounds the requests of the handlers it wraps, together.
type Limiter struct {
	opts  Options
	log   *slog.Logger
	slots chan struct{} // one token per request being served
	queue chan struct{} // one token per request waiting

	refusedFull, refusedWait atomic.Uint64

	logMu    sync.Mutex // guards what follows
	lastLog  time.Time
	unlogged uint64 // refusals since the last warning

	inFlightDesc, waitingDesc, maxDesc, refusedDesc *prometheus.Desc
}

// New returns a limiter; it panics when opts.Max is below 1, a programming
// error (flags are checked before).
func New(opts Options) *Limiter {
	if opts.Max < 1 {
		panic(fmt.Sprintf("inflight: Max must be at least 1, not %d", opts.Max))
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueuePerSlot * opts.Max
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{
		opts:  opts,
		log:   opts.Logger,
		slots: make(chan struct{}, opts.Max),
		queue: make(chan struct{}, opts.Queue),
	}
	cl := prometheus.Labels{"handler": opts.Name}
	l.inFlightDesc = prometheus.NewDesc("backupwatch_http_requests_in_flight",
		"Requests being served by the handler now.", nil, cl)
	l.waitingDesc = prometheus.NewDesc("backupwatch_http_requests_waiting",
		"Requests waiting for their turn at the handler now (see backupwatch_http_max_requests_in_flight).", nil, cl)
	l.maxDesc = prometheus.NewDesc("backupwatch_http_max_requests_in_flight",
		"Requests the handler serves at once; more wait, then get 503.", nil, cl)
	l.refusedDesc = prometheus.NewDesc("backupwatch_http_requests_refused_total",
		"Requests answered 503 because the handler was busy: too many waiting already (queue_full) or no turn within the wait (wait).", []string{"reason"}, cl)
	return l
}

// InFlight is how many requests are being served now.
func (l *Limiter) InFlight() int { return len(l.slots) }

// Waiting is how many requests wait for their turn now.
func (l *Limiter) Waiting() int { return len(l.queue) }

// Wrap returns next with its requests bounded by l.
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scrapeTimeout := announcedTimeout(r)
		if reason := l.acquire(r, scrapeTimeout); reason != "" {
			l.refuse(w, r, reason)
			return
		}
		defer func() { <-l.slots }()
		if d := l.writeTimeout(scrapeTimeout); d > 0 {
			// net/http clears the deadline once the response is finished,
			// so the next request on a keep-alive connection starts
			// afresh. Not every ResponseWriter has deadlines (a test
			// recorder does not): then there is none.
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

// acquire takes a slot for r, waiting in the queue if need be; it returns
// why it could not ("" when it did). A client that goes away while waiting
// gets a refusal it will not read, and is not counted.
func (l *Limiter) acquire(r *http.Request, scrapeTimeout time.Duration) string {
	select {
	case l.slots <- struct{}{}:
		return ""
	default:
	}
	select {
	case l.queue <- struct{}{}:
	default:
		l.refusedFull.Add(1)
		return ReasonQueueFull
	}
	defer func() { <-l.queue }()
	wait := l.opts.MaxWait
	if scrapeTimeout > 0 {
		wait = min(wait, scrapeTimeout/2)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	// Waiting senders on a channel are woken in the order they came, so a
	// freed slot goes to the request that has waited longest.
	select {
	case l.slots <- struct{}{}:
		return ""
	case <-t.C:
		l.refusedWait.Add(1)
		return ReasonWait
	case <-r.Context().Done():
		return reasonGone
	}
}

// writeTimeout is how long a served request may take to be written: the
// limiter's bound, or the scrape timeout a scraper announced when that is
// longer (it is still waiting).
func (l *Limiter) writeTimeout(scrapeTimeout time.Duration) time.Duration {
	if l.opts.WriteTimeout < 0 {
		return 0
	}
	return max(l.opts.WriteTimeout, scrapeTimeout)
}

// RetryAfter is the Retry-After of a refusal, in whole seconds: the
// longest wait, at least one second.
func (l *Limiter) RetryAfter() int {
	return max(1, int(math.Ceil(l.opts.MaxWait.Seconds())))
}

func (l *Limiter) refuse(w http.ResponseWriter, r *http.Request, reason string) {
	if reason == reasonGone {
		return
	}
	l.warn(reason)
	w.Header().Set("Retry-After", strconv.Itoa(l.RetryAfter()))
	http.Error(w, fmt.Sprintf("busy: %d requests are being served and %d wait; try again in %d s",
		l.opts.Max, l.Waiting(), l.RetryAfter()), http.StatusServiceUnavailable)
}

// warn logs refusals, at most once every logEvery, with how many there
// were: a flood must not flood the log too.
func (l *Limiter) warn(reason string) {
	l.logMu.Lock()
	defer l.logMu.Unlock()
	l.unlogged++
	now := time.Now()
	if !l.lastLog.IsZero() && now.Sub(l.lastLog) < logEvery {
		return
	}
	l.log.Warn("busy: requests refused with 503", "handler", l.opts.Name, "refused", l.unlogged, "reason", reason,
		"max_in_flight", l.opts.Max, "queue", l.opts.Queue, "max_wait", l.opts.MaxWait)
	l.lastLog, l.unlogged = now, 0
}

// announcedTimeout is the scrape timeout a Prometheus server sends with
// its scrape, 0 when there is none or it cannot be read.
func announcedTimeout(r *http.Request) time.Duration {
	v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	if v == "" {
		return 0
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s <= 0 || s > 24*3600 || math.IsNaN(s) {
		return 0
	}
	return time.Duration(s * float64(time.Second))
}

var _ prometheus.Collector = (*Limiter)(nil)

// Describe sends the limiter's metric descriptions.
func (l *Limiter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{l.inFlightDesc, l.waitingDesc, l.maxDesc, l.refusedDesc} {
		ch <- d
	}
}

// Collect sends the limiter's metrics.
func (l *Limiter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(l.inFlightDesc, prometheus.GaugeValue, float64(l.InFlight()))
	ch <- prometheus.MustNewConstMetric(l.waitingDesc, prometheus.GaugeValue, float64(l.Waiting()))
	ch <- prometheus.MustNewConstMetric(l.maxDesc, prometheus.GaugeValue, float64(l.opts.Max))
	ch <- prometheus.MustNewConstMetric(l.refusedDesc, prometheus.CounterValue, float64(l.refusedFull.Load()), ReasonQueueFull)
	ch <- prometheus.MustNewConstMetric(l.refusedDesc, prometheus.CounterValue, float64(l.refusedWait.Load()), ReasonWait)
}
