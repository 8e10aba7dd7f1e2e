package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// waitFor polls cond until it holds or the deadline passes; then the test
// fails with what was awaited and what cond last said.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	if !poll(timeout, cond, nil) {
		_, last := cond()
		t.Fatalf("waited %v for %s; last seen: %s", timeout, what, last)
	}
}

// poll calls cond every 200ms until it holds (true) or timeout passes
// (false); last, when set, gets cond's latest state.
func poll(timeout time.Duration, cond func() (bool, string), last *string) bool {
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if last != nil && state != "" {
			*last = state
		}
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freeAddr is a loopback address for a service of the stack
// (parts.FreeAddr: below the ephemeral range, each once per run).
func freeAddr(t *testing.T) string {
	t.Helper()
	return parts.FreeAddr(t)
}

// lockedBuffer collects a process's output for the failure report.
type lockedBuffer = parts.LockedBuffer

// process is one real program the test runs.
type process struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan struct{}
	err  error // set once done is closed
}

// start runs a program; it is stopped when the test ends.
func start(t *testing.T, name string, env []string, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends the process with SIGTERM (and SIGCONT, should it be paused),
// then SIGKILL if it lingers.
func (p *process) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Logf("%s did not stop on SIGTERM within 15s; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// signal sends sig; a process that has already exited fails the test
// with how it exited and its log, not with os.ErrProcessDone.
func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		if done, werr := p.exited(); done || errors.Is(err, os.ErrProcessDone) {
			if !done {
				<-p.done
				werr = p.err
			}
			t.Fatalf("%s exited (%v) before it could be sent %v; its log:\n%s", p.name, werr, sig, p.tail())
		}
		t.Fatalf("sending %v to %s: %v", sig, p.name, err)
	}
}

// tail is the end of the process's log, short enough for a test report.
func (p *process) tail() string {
	out := p.out.String()
	if len(out) > 15000 {
		out = "[...]\n" + out[len(out)-15000:]
	}
	return out
}

// pause stops the process where it is (SIGSTOP); resume lets it go on.
func (p *process) pause(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGSTOP)
}

func (p *process) resume(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGCONT)
}

func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// note is one notification as a person receives it, on either channel.
type note struct {
	Channel   string // "slack" or "email"
	Title     string // the Slack title or the email subject
	Status    string // "firing" or "resolved", from the title
	Firing    int    // N of "[FIRING:N]"
	Alertname string // the first word after the status, without a colon
	Parts     []string
	// Parts is what the person reads, normalised (markup removed, entities
	// decoded, white space collapsed): one string for Slack (every text of
	// the post), one per body part for email (text and HTML each).
	// Decoded is each part before it was made readable: Slack's text with
	// its markup, each email part decoded but still HTML.
	Decoded []string
	Types   []string // each part's media type ("slack", "text/plain", "text/html")
	Size    int      // bytes of the raw post or message
	Raw     string   // the raw post or message
}

// titleRE reads "[FIRING:3] BackupFailed: ..." and "[RESOLVED] BackupFailed ...".
var titleRE = regexp.MustCompile(`^\[(?:FIRING:(\d+)|(RESOLVED))\]\s*([^\s:(]+)`)

func parseTitle(n *note) {
	m := titleRE.FindStringSubmatch(n.Title)
	if m == nil {
		return
	}
	n.Alertname = m[3]
	if m[2] != "" {
		n.Status = "resolved"
		return
	}
	n.Status = "firing"
	n.Firing, _ = strconv.Atoi(m[1])
}

func (n note) String() string {
	return fmt.Sprintf("%s %q (%d bytes)", n.Channel, n.Title, n.Size)
}

var (
	spaceRE = regexp.MustCompile(`\s+`)
	tagRE   = regexp.MustCompile(`(?s)<[^>]*>`)
	// Style and script bodies are not text a person reads.
	styleRE = regexp.MustCompile(`(?is)<(style|script|head)[^>]*>.*?</(style|script|head)>`)
)

func normalise(s string) string {
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

// htmlText is what a mail reader shows of an HTML part.
func htmlText(s string) string {
	s = styleRE.ReplaceAllString(s, " ")
	s = tagRE.ReplaceAllString(s, " ")
	return normalise(html.UnescapeString(s))
}

// slackText undoes Slack's three escapes (&amp; &lt; &gt;).
func slackText(s string) string {
	return normalise(strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s))
}

// slackStub stands in for Slack's webhook: it records every post and
// answers 200, or 500 while failing is set.
type slackStub struct {
	srv      *httptest.Server
	failing  atomic.Bool
	mu       sync.Mutex
	posts    []note // accepted
	lastPost time.Time
	rejected []note // answered 500
	log      lockedBuffer
}

func newSlackStub(t *testing.T) *slackStub {
	s := &slackStub{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(&s.log, "%s %s %.2000s\n", time.Now().Format(time.TimeOnly), r.URL.Path, body)
		n, err := parseSlack(body)
		if err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.failing.Load() {
			s.rejected = append(s.rejected, n)
			http.Error(w, "slack is having a bad day", http.StatusInternalServerError)
			return
		}
		s.posts = append(s.posts, n)
		s.lastPost = time.Now()
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// parseSlack reads a webhook post: its title is the first attachment's
// (or the text's first line), its text every string in it.
func parseSlack(body []byte) (note, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return note{}, err
	}
	n := note{Channel: "slack", Size: len(body), Raw: string(body)}
	var p struct {
		Text        string `json:"text"`
		Attachments []struct {
			Title string `json:"title"`
		} `json:"attachments"`
	}
	_ = json.Unmarshal(body, &p)
	switch {
	case len(p.Attachments) > 0 && p.Attachments[0].Title != "":
		n.Title = p.Attachments[0].Title
	default:
		n.Title, _, _ = strings.Cut(p.Text, "\n")
	}
	n.Title = slackText(n.Title)
	var texts []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			texts = append(texts, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if k != "channel" && k != "color" && k != "fallback" && k != "mrkdwn_in" {
					walk(v[k])
				}
			}
		}
	}
	walk(v)
	n.Decoded = []string{strings.Join(texts, "\n")}
	n.Types = []string{"slack"}
	n.Parts = []string{slackText(n.Decoded[0])}
	parseTitle(&n)
	return n, nil
}

// lastAccepted is when the latest post was accepted (zero if none was).
func (s *slackStub) lastAccepted() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPost
}

func (s *slackStub) snapshot() (accepted, rejected []note) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts), slices.Clone(s.rejected)
}

// mailsinkBin is tools/mailsink, built once by TestMain.
var mailsinkBin string

// mailsink is the real SMTP server (tools/mailsink, on emersion/go-smtp)
// that Alertmanager delivers to: each message is a file in dir.
type mailsink struct {
	p    *process
	addr string
	dir  string

	mu   sync.Mutex
	seen map[string]email // by file name
}

// email is one message the SMTP server accepted.
type email struct {
	To []string
	note
}

func startMailsink(t *testing.T, dir string) *mailsink {
	t.Helper()
	m := &mailsink{dir: dir, seen: map[string]email{}}
	m.p = start(t, "mailsink", nil, mailsinkBin, "-listen=127.0.0.1:0", "-dir="+dir)
	waitFor(t, "mailsink to listen", 30*time.Second, func() (bool, string) {
		if done, err := m.p.exited(); done {
			t.Fatalf("mailsink exited: %v\n%s", err, m.p.out.String())
		}
		for line := range strings.Lines(m.p.out.String()) {
			if a, ok := strings.CutPrefix(strings.TrimSpace(line), "mailsink ready addr="); ok {
				m.addr = a
				return true, ""
			}
		}
		return false, m.p.out.String()
	})
	return m
}

// snapshot returns every message received so far, in order of arrival.
func (m *mailsink) snapshot() []email {
	files, _ := filepath.Glob(filepath.Join(m.dir, "*.eml"))
	sort.Strings(files)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]email, 0, len(files))
	for _, f := range files {
		e, ok := m.seen[f]
		if !ok {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			e = parseEmail(b)
			m.seen[f] = e
		}
		out = append(out, e)
	}
	return out
}

// parseEmail reads a message as a mail reader would: the subject decoded,
// every text/plain and text/html part decoded (quoted-printable, base64).
func parseEmail(raw []byte) email {
	e := email{note: note{Channel: "email", Size: len(raw), Raw: string(raw)}}
	m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		e.Parts, e.Decoded, e.Types = []string{normalise(string(raw))}, []string{string(raw)}, []string{"text/plain"}
		return e
	}
	for _, a := range strings.Split(m.Header.Get("X-Mailsink-To"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			e.To = append(e.To, a)
		}
	}
	dec := new(mime.WordDecoder)
	subj := m.Header.Get("Subject")
	if d, err := dec.DecodeHeader(subj); err == nil {
		subj = d
	}
	e.Title = normalise(subj)
	parseTitle(&e.note)
	for _, p := range bodyParts(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body) {
		e.Parts = append(e.Parts, p.text)
		e.Decoded = append(e.Decoded, p.decoded)
		e.Types = append(e.Types, p.mediaType)
	}
	return e
}

// part is one text part of a message: decoded, and as a reader sees it.
type part struct{ mediaType, decoded, text string }

func bodyParts(ctype, cte string, body io.Reader) []part {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		var out []part
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // decodes quoted-printable itself
			if err != nil {
				break
			}
			out = append(out, bodyParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)...)
		}
		return out
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks
	}
	b, _ := io.ReadAll(r)
	switch mt {
	case "text/html":
		return []part{{mt, string(b), htmlText(string(b))}}
	case "text/plain", "":
		return []part{{"text/plain", string(b), normalise(string(b))}}
	}
	return nil
}

// mentions counts the distinct names matching re in s.
func mentions(s string, re *regexp.Regexp) int {
	seen := map[string]bool{}
	for _, m := range re.FindAllString(s, -1) {
		seen[m] = true
	}
	return len(seen)
}
