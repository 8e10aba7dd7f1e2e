// Command mailsink is the mail relay of backupwatch's end-to-end tests: a
// real SMTP server (github.com/emersion/go-smtp) that accepts every message
// and writes each one, as received, to a file of its own in a directory the
// test reads. It lives in its own module so that the product's go.sum never
// depends on an SMTP server.
//
//	mailsink -listen=127.0.0.1:0 -dir=DIR
//
// Once it listens it prints "mailsink ready addr=HOST:PORT" on stdout. Each
// message becomes DIR/NNNNNN.eml (numbered in the order of arrival, written
// to a temporary name and renamed, so a reader never sees half a message):
// two envelope headers, X-Mailsink-From and X-Mailsink-To, then the message
// exactly as the client sent it. SIGTERM or SIGINT stops it.
//
// With -tls-cert and -tls-key it offers STARTTLS; with -auth USER:PASSWORD
// it requires AUTH PLAIN before MAIL (offered only after STARTTLS when TLS
// is set, as a real relay does), so that clients' TLS and auth are tested
// against a real server.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// ReadyPrefix starts the line printed once the server listens.
const ReadyPrefix = "mailsink ready addr="

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to accept SMTP on")
	dir := flag.String("dir", "", "directory to write each received message to (required)")
	maxBytes := flag.Int64("max-bytes", 64<<20, "largest message accepted, in bytes (advertised as SIZE)")
	maxLine := flag.Int("max-line", 2000, "longest line accepted, in bytes (RFC 5321 allows 1000)")
	debug := flag.Bool("debug", false, "log the SMTP conversation to stderr")
	tlsCert := flag.String("tls-cert", "", "PEM certificate file: offer STARTTLS with it and -tls-key (none: no STARTTLS)")
	tlsKey := flag.String("tls-key", "", "PEM key file of -tls-cert")
	auth := flag.String("auth", "", "USER:PASSWORD: require AUTH PLAIN with these before MAIL (offered only after STARTTLS when -tls-cert is set)")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "mailsink: usage: mailsink -dir=DIR [-listen=ADDR]")
		os.Exit(2)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailsink: listening on %s: %v\n", *listen, err)
		os.Exit(1)
	}
	srv, err := newServer(*dir, *maxBytes, *maxLine)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailsink:", err)
		os.Exit(1)
	}
	if *debug {
		srv.Debug = os.Stderr
	}
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mailsink: loading -tls-cert and -tls-key: %v\n", err)
			os.Exit(2)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	srv.AllowInsecureAuth = srv.TLSConfig == nil
	srv.Backend.(*backend).auth = *auth
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	fmt.Println(ReadyPrefix + l.Addr().String())
	if err := run(ctx, srv, l); err != nil {
		fmt.Fprintln(os.Stderr, "mailsink:", err)
		os.Exit(1)
	}
}

// newServer returns an SMTP server that writes what it receives to dir.
func newServer(dir string, maxBytes int64, maxLine int) (*smtp.Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the message directory: %w", err)
	}
	srv := smtp.NewServer(&backend{dir: dir})
	srv.Domain = "mailsink.test"
	srv.MaxMessageBytes = maxBytes
	srv.MaxLineLength = maxLine
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(os.Stderr, "mailsink: ", log.LstdFlags)
	return srv, nil
}

// run serves l until ctx ends, then lets sessions in progress finish.
func run(ctx context.Context, srv *smtp.Server, l net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving SMTP: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// backend numbers the messages of every session in one sequence.
type backend struct {
	dir  string
	auth string // "user:password" required before MAIL; "" for none
	mu   sync.Mutex
	n    int
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &session{b: b}, nil
}

// save writes one message as the next numbered file, atomically.
func (b *backend) save(from string, to []string, data []byte) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "X-Mailsink-From: %s\r\nX-Mailsink-To: %s\r\n", from, strings.Join(to, ", "))
	buf.Write(data)
	name := filepath.Join(b.dir, fmt.Sprintf("%06d.eml", b.n+1))
	tmp, err := os.CreateTemp(b.dir, ".incoming-*")
	if err != nil {
		return "", fmt.Errorf("saving a message: %w", err)
	}
	_, werr := tmp.Write(buf.Bytes())
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("saving a message: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("saving a message: %w", err)
	}
	b.n++
	return name, nil
}

// session is one SMTP transaction's envelope; every sender and recipient
// is accepted.
type session struct {
	b      *backend
	authed bool
	from   string
	to     []string
}

// AuthMechanisms and Auth make the session an smtp.AuthSession: AUTH
// PLAIN, when -auth is set.
func (s *session) AuthMechanisms() []string {
	if s.b.auth == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if s.b.auth == "" || username+":"+password != s.b.auth {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.auth != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from, s.to = from, nil
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	name, err := s.b.save(s.from, s.to, data)
	if err != nil {
		log.Printf("mailsink: %v", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "cannot store the message now"}
	}
	log.Printf("mailsink: %s from <%s> to %v, %d bytes", filepath.Base(name), s.from, s.to, len(data))
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }
