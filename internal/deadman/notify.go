package deadman

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"
)

// NotifyTimeout bounds one delivery, so that a hanging Slack or relay
// never holds up the other notifier or the next check for long.
const NotifyTimeout = 30 * time.Second

// Slack posts to a Slack incoming webhook. The URL is a secret: it never
// appears in an error or a log.
type Slack struct {
	URL    string
	Client *http.Client // http.DefaultClient when nil
}

var _ Notifier = (*Slack)(nil)

// ReadSecretFile reads a one-line secret (a webhook URL, a password) from
// a file, without its trailing newline.
func ReadSecretFile(p string) (string, error) {
	b, err := readBounded(p)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" || strings.ContainsAny(v, "\r\n") {
		return "", fmt.Errorf("read %s: want one non-empty line", p)
	}
	return v, nil
}

// Name implements Notifier.
func (*Slack) Name() string { return "slack" }

// Notify implements Notifier.
func (s *Slack) Notify(ctx context.Context, m Message) error {
	text := "*" + slackEscape(m.Title) + "*\n" + slackEscape(m.Text)
	body, _ := json.Marshal(map[string]string{"text": text})
	ctx, cancel := context.WithTimeout(ctx, NotifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return errors.New("post to the Slack webhook: the URL does not parse")
	}
	req.Header.Set("Content-Type", "application/json")
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("post to the Slack webhook: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post to the Slack webhook: %s: %q", resp.Status, strings.TrimSpace(string(reply)))
	}
	return nil
}

// slackEscape keeps text from being read as Slack markup (mentions, links).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Email sends mail through an SMTP relay with the standard library's
// net/smtp, as Alertmanager's email_configs do: STARTTLS when the relay
// offers it (required unless RequireTLS is false), then AUTH PLAIN when a
// username is set (net/smtp refuses it without TLS except to localhost).
type Email struct {
	Smarthost  string // host:port
	From       string
	To         []string
	RequireTLS bool
	Username   string
	Password   string      // a secret: never in an error or a log
	Hello      string      // the EHLO name; the host name when empty
	TLSConfig  *tls.Config // nil: the system's roots, the smarthost's name
}

var _ Notifier = (*Email)(nil)

// Name implements Notifier.
func (*Email) Name() string { return "email" }

// Notify implements Notifier.
func (e *Email) Notify(ctx context.Context, m Message) error {
	if err := e.send(ctx, m); err != nil {
		return fmt.Errorf("send email through %s: %w", e.Smarthost, err)
	}
	return nil
}

func (e *Email) send(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, NotifyTimeout)
	defer cancel()
	host, _, err := net.SplitHostPort(e.Smarthost)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.Smarthost)
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	hello := e.Hello
	if hello == "" {
		hello, _ = os.Hostname()
	}
	if hello != "" {
		if err := c.Hello(hello); err != nil {
			return err
		}
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := e.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if e.RequireTLS {
		return errors.New("the relay does not offer STARTTLS and --email.require-tls is set")
	}
	if e.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the relay offers no AUTH but a username is set")
		}
		if err := c.Auth(smtp.PlainAuth("", e.Username, e.Password, host)); err != nil {
			return fmt.Errorf("auth as %s: %w", e.Username, err)
		}
	}
	if err := c.Mail(e.From); err != nil {
		return err
	}
	for _, to := range e.To {
		if err := c.Rcpt(to); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(e.message(m)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// message is the mail as sent: plain text, UTF-8, the title as subject.
func (e *Email) message(m Message) []byte {
	var b bytes.Buffer
	oneLine := strings.NewReplacer("\r", " ", "\n", " ")
	fmt.Fprintf(&b, "From: %s\r\n", e.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(e.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine.Replace(m.Title)))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-Id: <%d.deadman@%s>\r\n", time.Now().UnixNano(), hostOf(e.From))
	if m.HTML != "" {
		return alternative(&b, m)
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\nX-Backupwatch-Deadman: " + m.Kind + "\r\n\r\n")
	for line := range strings.Lines(m.Text) {
		b.WriteString(strings.TrimRight(line, "\r\n") + "\r\n")
	}
	return b.Bytes()
}

// alternative ends the mail begun in b as multipart/alternative: the text,
// then the HTML (which a mail client shows when it can), each quoted-
// printable, so that no line is longer than SMTP allows.
func alternative(b *bytes.Buffer, m Message) []byte {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range []struct{ ctype, text string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", p.ctype+"; charset=UTF-8")
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		w, _ := mw.CreatePart(h) // writes to memory: no error
		qp := quotedprintable.NewWriter(w)
		for line := range strings.Lines(p.text) {
			qp.Write([]byte(strings.TrimRight(line, "\r\n") + "\r\n"))
		}
		qp.Close()
	}
	mw.Close()
	fmt.Fprintf(b, "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=%s\r\nX-Backupwatch-Deadman: %s\r\n\r\n", mw.Boundary(), m.Kind)
	b.Write(body.Bytes())
	return b.Bytes()
}

func hostOf(addr string) string {
	if _, h, ok := strings.Cut(addr, "@"); ok {
		return strings.Trim(h, "> ")
	}
	return "localhost"
}
