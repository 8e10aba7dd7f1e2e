package deadman

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startMailsink runs tools/mailsink, the project's test SMTP server (a
// real one, on emersion/go-smtp, in a module of its own), with flags, and
// returns its address and the directory it writes each message to.
func startMailsink(t *testing.T, flags ...string) (addr, dir string) {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "mailsink")
	build := exec.Command("go", "build", "-mod=readonly", "-o", bin, ".")
	build.Dir = "../../tools/mailsink"
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building tools/mailsink (it needs its module's dependencies: `cd tools/mailsink && go mod download`): %v\n%s", err, out)
	}
	dir = filepath.Join(tmp, "mail")
	cmd := exec.Command(bin, append([]string{"-listen=127.0.0.1:0", "-dir=" + dir}, flags...)...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "mailsink ready addr=")
	if err != nil || !ok {
		t.Fatalf("mailsink did not say where it listens: %q %v", line, err)
	}
	return addr, dir
}

func received(t *testing.T, dir string) []*mail.Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	var out []*mail.Message
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(fh)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, m)
		t.Cleanup(func() { fh.Close() })
	}
	return out
}

var sample = Message{Kind: KindPage, Title: "Dead man's switch: no heartbeat for 11m0s: alerts may not reach you\r\nBcc: evil@example.org",
	Text: "No heartbeat.\n.\nSilent: heartbeat, last heartbeat at 2026-12-06 12:00:00 UTC (11m0s ago).\n<!channel> <b>x</b>"}

func TestEmail(t *testing.T) {
	addr, dir := startMailsink(t)
	e := &Email{Smarthost: addr, From: "deadman@example.org", To: []string{"cheery@example.org", "ops@example.org"}}
	if err := e.Notify(context.Background(), sample); err != nil {
		t.Fatal(err)
	}
	msgs := received(t, dir)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if got := m.Header.Get("X-Mailsink-To"); !strings.Contains(got, "cheery@example.org") || !strings.Contains(got, "ops@example.org") {
		t.Errorf("envelope recipients %q", got)
	}
	if got := m.Header.Get("Bcc"); got != "" {
		t.Errorf("a header injected through the title: Bcc %q", got)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if !strings.HasPrefix(subj, "Dead man's switch: no heartbeat for 11m0s") {
		t.Errorf("subject %q", subj)
	}
	body, _ := io.ReadAll(m.Body)
	if !strings.Contains(string(body), "\r\n.\r\n") || !strings.Contains(string(body), "Silent: heartbeat, last heartbeat at 2026-12-06 12:00:00 UTC") {
		t.Errorf("body %q", body)
	}

	// A relay without STARTTLS: refused when TLS is required (Alertmanager's
	// smtp_require_tls default), and nothing sent.
	e.RequireTLS = true
	err := e.Notify(context.Background(), sample)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("require TLS against a relay without it: %v", err)
	}
	// AUTH over plain text is refused by net/smtp unless to localhost; this
	// relay offers none, which is an error, not a silent unauthenticated send.
	e.RequireTLS, e.Username, e.Password = false, "deadman", "hunter2-secret"
	err = e.Notify(context.Background(), sample)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("auth against a relay without AUTH: %v (and never the password)", err)
	}
	if n := len(received(t, dir)); n != 1 {
		t.Errorf("%d messages after the refused sends, want still 1", n)
	}

	// The relay down: a clear error within a bounded time.
	e.Username = ""
	e.Smarthost = "127.0.0.1:1"
	if err := e.Notify(context.Background(), sample); err == nil || !strings.Contains(err.Error(), "send email through 127.0.0.1:1") {
		t.Errorf("relay down: %v", err)
	}
}

func TestSlack(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, string(b))
		w.WriteHeader(status)
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	secret := srv.URL + "/services/T000/B000/SECRETSECRET"
	s := &Slack{URL: secret, Client: &http.Client{Timeout: 5 * time.Second}}
	if err := s.Notify(context.Background(), sample); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 1 || strings.Contains(bodies[0], "<!channel>") || strings.Contains(bodies[0], "<b>") || !strings.Contains(bodies[0], `"text":"*Dead man's switch: no heartbeat`) {
		t.Errorf("post %q", bodies)
	}
	status = http.StatusInternalServerError
	err := s.Notify(context.Background(), sample)
	if err == nil || !strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Slack answering 500: %v (want the status, never the URL)", err)
	}
	srv.Close()
	err = s.Notify(context.Background(), sample)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Slack down: %v (want an error, never the URL)", err)
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"ok": "https://hooks.slack.com/services/X\n", "empty": "\n", "two lines": "a\nb\n"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		v, err := ReadSecretFile(p)
		if (err == nil) != (name == "ok") || (err == nil && v != "https://hooks.slack.com/services/X") {
			t.Errorf("%s: %q, %v", name, v, err)
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailsink.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestEmailSTARTTLSAndAuth: against a relay that offers STARTTLS and
// requires AUTH PLAIN (as Alertmanager's smtp_require_tls and
// smtp_auth_* expect), the message goes over TLS, authenticated; a wrong
// password or an untrusted certificate is an error, and nothing is sent.
func TestEmailSTARTTLSAndAuth(t *testing.T) {
	cert, key, pool := selfSigned(t)
	addr, dir := startMailsink(t, "-tls-cert="+cert, "-tls-key="+key, "-auth=deadman:s3cret-password")
	e := &Email{Smarthost: addr, From: "deadman@example.org", To: []string{"cheery@example.org"}, RequireTLS: true,
		Username: "deadman", Password: "s3cret-password", TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	if err := e.Notify(context.Background(), sample); err != nil {
		t.Fatalf("STARTTLS and AUTH: %v", err)
	}
	if n := len(received(t, dir)); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	wrong := *e
	wrong.Password = "wrong-password"
	if err := wrong.Notify(context.Background(), sample); err == nil || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("a wrong password: %v (want an error, never the password)", err)
	}
	untrusted := *e
	untrusted.TLSConfig = &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if err := untrusted.Notify(context.Background(), sample); err == nil || !strings.Contains(err.Error(), "starttls") {
		t.Errorf("an untrusted certificate: %v", err)
	}
	noAuth := *e
	noAuth.Username = ""
	if err := noAuth.Notify(context.Background(), sample); err == nil {
		t.Errorf("no AUTH to a relay that requires it: no error")
	}
	if n := len(received(t, dir)); n != 1 {
		t.Errorf("%d messages after the refused sends, want still 1", n)
	}
}
