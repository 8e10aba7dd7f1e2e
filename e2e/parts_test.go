package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes; then the test
// fails with what was awaited and what cond last said.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		if state != "" {
			last = state
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer collects a process's output for the failure report.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

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

// stop ends the process with SIGTERM, then SIGKILL if it lingers.
func (p *process) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Logf("%s did not stop on SIGTERM within 15s; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// slackPost is what Alertmanager posts to a Slack incoming webhook.
type slackPost struct {
	Channel     string `json:"channel"`
	Attachments []struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"attachments"`
}

func (p slackPost) title() string {
	if len(p.Attachments) == 0 {
		return ""
	}
	return p.Attachments[0].Title
}

// slackStub stands in for Slack's webhook: it records every post and
// answers 200, or 500 while failing is set.
type slackStub struct {
	srv      *httptest.Server
	failing  atomic.Bool
	mu       sync.Mutex
	posts    []slackPost // accepted
	rejected []slackPost // answered 500
	log      lockedBuffer
}

func newSlackStub(t *testing.T) *slackStub {
	s := &slackStub{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(&s.log, "%s %s %s\n", time.Now().Format(time.TimeOnly), r.URL.Path, body)
		var p slackPost
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.failing.Load() {
			s.rejected = append(s.rejected, p)
			http.Error(w, "slack is having a bad day", http.StatusInternalServerError)
			return
		}
		s.posts = append(s.posts, p)
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *slackStub) snapshot() (accepted, rejected []slackPost) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts), slices.Clone(s.rejected)
}

// email is one message the SMTP server accepted.
type email struct {
	From    string
	To      []string
	Subject string
	Body    string
}

// smtpServer is a minimal real SMTP server (RFC 5321 without AUTH or TLS):
// enough for Alertmanager's net/smtp client to deliver to it.
type smtpServer struct {
	l    net.Listener
	mu   sync.Mutex
	msgs []email
	log  lockedBuffer
	wg   sync.WaitGroup
}

func newSMTPServer(t *testing.T) *smtpServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{l: l}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) addr() string { return s.l.Addr().String() }

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(c)
	reply := func(code int, msg string) {
		fmt.Fprintf(&s.log, "S: %d %s\n", code, msg)
		_ = tp.PrintfLine("%d %s", code, msg)
	}
	reply(220, "e2e.test ESMTP ready")
	var from string
	var to []string
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		fmt.Fprintf(&s.log, "C: %s\n", line)
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			reply(250, "e2e.test")
		case "MAIL":
			from, to = addrArg(arg), nil
			reply(250, "ok")
		case "RCPT":
			if from == "" {
				reply(503, "MAIL first")
				continue
			}
			to = append(to, addrArg(arg))
			reply(250, "ok")
		case "DATA":
			if len(to) == 0 {
				reply(503, "RCPT first")
				continue
			}
			reply(354, "end with <CRLF>.<CRLF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			s.store(from, to, data)
			from, to = "", nil
			reply(250, "queued")
		case "RSET":
			from, to = "", nil
			reply(250, "ok")
		case "NOOP":
			reply(250, "ok")
		case "QUIT":
			reply(221, "bye")
			return
		default:
			reply(502, "not implemented")
		}
	}
}

// addrArg takes the address out of "FROM:<a@b> SIZE=..." or "TO:<a@b>".
func addrArg(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j > 0 {
			return arg[i+1 : i+j]
		}
	}
	_, a, _ := strings.Cut(arg, ":")
	return strings.TrimSpace(a)
}

func (s *smtpServer) store(from string, to []string, data []byte) {
	e := email{From: from, To: to}
	if m, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(data))); err == nil {
		dec := new(mime.WordDecoder)
		if subj, err := dec.DecodeHeader(m.Header.Get("Subject")); err == nil {
			e.Subject = subj
		} else {
			e.Subject = m.Header.Get("Subject")
		}
		body, _ := io.ReadAll(m.Body)
		e.Body = string(body)
	} else {
		e.Body = string(data)
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, e)
	s.mu.Unlock()
}

func (s *smtpServer) snapshot() []email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]email(nil), s.msgs...)
}
