package heartbeat

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/golemtrust/backupwatch/internal/deadman"
)

// clock is the switch's time, moved by the test: what is silent is a
// matter of durations, not of how fast this machine is.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is a real backupwatch deadman switch served as `backupwatch deadman`
// serves it: exporter-toolkit's listener with TLS from a private CA and
// basic auth.
type rig struct {
	sw     *deadman.Switch
	clock  *clock
	base   string // https://127.0.0.1:port
	roots  *x509.CertPool
	client *http.Client
	srv    *http.Server
	done   chan error
}

const user, password = "prometheus", "s3cret-Deadman-Pa55"

func newRig(t *testing.T, timeout time.Duration, senders ...string) *rig {
	t.Helper()
	dir := t.TempDir()
	caFile, certFile, keyFile := privateCA(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\nbasic_auth_users:\n  "+user+": "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)}
	sw, err := deadman.New(deadman.Options{Senders: senders, Timeout: timeout, Reminder: 24 * time.Hour, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(sw)
	mux := http.NewServeMux()
	mux.Handle("/heartbeat", sw)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := &rig{sw: sw, clock: c, base: "https://" + addr, srv: &http.Server{Handler: mux}, done: make(chan error, 1)}
	roots, err := LoadCA(caFile)
	if err != nil {
		t.Fatal(err)
	}
	r.roots = roots
	reader, err := NewReader(r.base, roots) // its client trusts the CA
	if err != nil {
		t.Fatal(err)
	}
	r.client = reader.client
	addrs, systemd := []string{addr}, false
	go func() {
		r.done <- toolkitweb.ListenAndServe(r.srv, &toolkitweb.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webConfig}, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(r.stop)
	deadline := time.Now().Add(30 * time.Second)
	for r.get(t, "/metrics") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the switch did not answer within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (r *rig) stop() {
	r.srv.Close()
}

func (r *rig) get(t *testing.T, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.base+path, nil)
	req.SetBasicAuth(user, password)
	resp, err := r.client.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// beat posts a heartbeat from each sender, as a cron curl does.
func (r *rig) beat(t *testing.T, senders ...string) {
	t.Helper()
	for _, s := range senders {
		if code := r.get(t, "/heartbeat?sender="+s); code != http.StatusOK {
			t.Fatalf("heartbeat from %s: %d", s, code)
		}
	}
}

// authURL is the switch's URL with the credentials in it.
func (r *rig) authURL() string {
	return strings.Replace(r.base, "https://", "https://"+user+":"+password+"@", 1)
}

// TestReadRealSwitch reads a real switch, behind TLS and basic auth,
// through its life: starting, heartbeats fine, one of two senders silent,
// both silent, stopped. The password is never in a state.
func TestReadRealSwitch(t *testing.T) {
	const timeout = 10 * time.Minute
	r := newRig(t, timeout, "am-1", "am-2")
	rd, err := NewReader(r.authURL(), r.roots)
	if err != nil {
		t.Fatal(err)
	}
	if rd.String() != r.base+"/metrics" {
		t.Errorf("the reader shows itself as %q, want %q", rd.String(), r.base+"/metrics")
	}
	ctx := context.Background()
	var seen []State
	read := func(want string) State {
		t.Helper()
		st := rd.Read(ctx)
		seen = append(seen, st)
		if st.Verdict() != want {
			t.Fatalf("verdict %q (%+v), want %q", st.Verdict(), st, want)
		}
		return st
	}

	st := read(Starting)
	if st.Timeout != timeout || len(st.Senders) != 2 || st.Senders[0].Name != "am-1" || !st.Senders[0].Last.IsZero() {
		t.Errorf("a starting switch read as %+v", st)
	}

	start := r.clock.now()
	r.clock.add(timeout + time.Minute)
	r.beat(t, "am-1", "am-2")
	r.sw.Judge(ctx)
	st = read(Fine)
	if want := start.Add(timeout + time.Minute); !st.Senders[1].Last.Equal(want) {
		t.Errorf("am-2's last heartbeat read as %v, want %v", st.Senders[1].Last, want)
	}
	if st.Problem() {
		t.Errorf("heartbeats fine is a problem")
	}

	am2Last := r.clock.now()
	r.clock.add(6 * time.Minute)
	r.beat(t, "am-1")
	r.clock.add(6 * time.Minute)
	r.sw.Judge(ctx)
	st = read(Partial)
	if st.SilentCount() != 1 || st.Senders[0].Silent || !st.Senders[1].Silent || !st.Senders[1].Last.Equal(am2Last) || !st.Problem() {
		t.Errorf("one of two silent read as %+v", st)
	}

	r.clock.add(2 * timeout)
	r.sw.Judge(ctx)
	st = read(Silent)
	if st.SilentCount() != 2 {
		t.Errorf("all silent read as %+v", st)
	}

	r.stop()
	st = read(Unreachable)
	if !strings.Contains(st.Err, "connection refused") || st.Switch != r.base+"/metrics" {
		t.Errorf("a stopped switch read as %+v", st)
	}
	for _, s := range seen {
		if strings.Contains(fmt.Sprintf("%+v", s), password) {
			t.Errorf("the password is in a state: %+v", s)
		}
	}
}

// TestReadRefused: a switch that refuses the reader says why, naming what
// to fix and never the password.
func TestReadRefused(t *testing.T) {
	r := newRig(t, time.Minute)
	tests := []struct {
		name, url string
		ca        *x509.CertPool
		want      string
	}{
		{"no credentials", r.base, r.roots, "asks for basic auth"},
		{"wrong password", strings.Replace(r.base, "https://", "https://"+user+":not-"+password+"@", 1), r.roots, "credentials in the URL were refused"},
		{"CA not given", r.authURL(), nil, "certificate"},
		{"plain HTTP to TLS", strings.Replace(r.authURL(), "https://", "http://", 1), nil, "400"},
		{"not its /metrics", r.authURL() + "/-/nothing", r.roots, "404"},
	}
	for _, tc := range tests {
		rd, err := NewReader(tc.url, tc.ca)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		st := rd.Read(context.Background())
		if st.Verdict() != Unreachable || !strings.Contains(st.Err, tc.want) {
			t.Errorf("%s: %s %q, want unreachable with %q", tc.name, st.Verdict(), st.Err, tc.want)
		}
		if strings.Contains(st.Err+st.Switch, password) || strings.Contains(st.Err+st.Switch, user+":") || strings.Contains(st.Err, "<hidden>") {
			t.Errorf("%s: credentials shown: %+v", tc.name, st)
		}
	}
}

// TestNewReaderRefuses: a URL that cannot be a switch's is an error that
// never repeats its credentials.
func TestNewReaderRefuses(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"ftp://u:" + password + "@host/metrics", "http:// or https://"},
		{"file:///etc/passwd", "http:// or https://"},
		{"http://u:" + password + "@host:10037/metrics?x=1", "no query"},
		{"http://u:" + password + "@host:10037\n/metrics", "not a URL"},
		{"http://u:" + password + "@host:bad", "not a URL"},
		{"deadman:10037", "http:// or https://"},
	} {
		_, err := NewReader(tc.url, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), password) {
			t.Errorf("NewReader(%q) = %v, want an error with %q and no password", tc.url, err, tc.want)
		}
	}
	if _, err := LoadCA(filepath.Join(t.TempDir(), "none.pem")); err == nil || !strings.Contains(err.Error(), "CA file") {
		t.Errorf("a missing CA file: %v", err)
	}
}

// privateCA writes a CA and a certificate it signed for 127.0.0.1 into
// dir, and returns the files' paths.
func privateCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "deadman test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.crt", "CERTIFICATE", caDER), write("deadman.crt", "CERTIFICATE", leafDER), write("deadman.key", "EC PRIVATE KEY", keyDER)
}

// TestScrubKeepsTheReason: a short user name is not cut out of the error
// (it is no secret, and "u" is in "refused"); the password is.
func TestScrubKeepsTheReason(t *testing.T) {
	rd, err := NewReader("http://u:"+password+"@127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := rd.Read(context.Background()); !strings.Contains(st.Err, "connection refused") {
		t.Errorf("error %q, want the reason intact", st.Err)
	}
	if got := rd.scrub("sent u:" + password + " and " + password); got != "sent <hidden> and <hidden>" {
		t.Errorf("scrub = %q", got)
	}
}
