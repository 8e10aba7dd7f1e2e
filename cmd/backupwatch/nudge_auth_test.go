package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// privateCA writes a CA and a certificate it signed for 127.0.0.1 into
// dir, and returns the files' paths.
func privateCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "backupwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
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
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
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
	return write("ca.crt", "CERTIFICATE", caDER), write("serve.crt", "CERTIFICATE", leafDER), write("serve.key", "EC PRIVATE KEY", keyDER)
}

// TestNudgeTLSAndBasicAuth (issue 16 item 7 and the CA flag): serve
// protected as documented (--web.config.file: TLS from a private CA, basic
// auth) is nudged when record is given the CA and the credentials in a
// file; without them the nudge fails with a warning that names the flag;
// credentials in --exporter.url are refused, pointing to the file; the
// password is never printed.
func TestNudgeTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	const user, password = "ops", "s3cret-nudge-Pa55"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile := privateCA(t, dir)
	webConfig := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\nbasic_auth_users:\n  "+user+": "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	authFile := writeSecret(t, dir, "exporter-auth", user+":"+password)
	wrongAuth := writeSecret(t, dir, "wrong-auth", user+":not-the-password")
	openAuth := filepath.Join(dir, "open-auth")
	if err := os.WriteFile(openAuth, []byte(user+":"+password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badAuth := writeSecret(t, dir, "bad-auth", "no colon here")

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	store := "--store.dir=" + filepath.Join(dir, "records")
	if code, _, errOut := cli(t, store, "record", "--status=success", "--host=db"); code != exitOK {
		t.Fatalf("record: exit %d: %s", code, errOut)
	}
	e := startExporterWith(t, &exporter{
		url:    "https://",
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		auth:   &[2]string{user, password},
	}, []string{store}, "--refresh.interval=1h", "--web.config.file="+webConfig)
	e.waitFor(t, "the first refresh", storeUp(1))
	exporterURL := "--exporter.url=" + e.url

	var printed []string
	for _, tc := range []struct {
		name   string
		flags  []string
		nudged bool
		want   string // in the warning when not nudged
	}{
		{"no CA", []string{exporterURL, "--exporter.basic-auth-file=" + authFile}, false, "certificate"},
		{"no credentials", []string{exporterURL, "--exporter.ca-file=" + caFile}, false, "--exporter.basic-auth-file"},
		{"wrong credentials", []string{exporterURL, "--exporter.ca-file=" + caFile, "--exporter.basic-auth-file=" + wrongAuth}, false, "were refused"},
		{"CA and credentials", []string{exporterURL, "--exporter.ca-file=" + caFile, "--exporter.basic-auth-file=" + authFile}, true, ""},
	} {
		code, out, errOut := cli(t, append(append([]string{store}, tc.flags...), "record", "--status=failed", "--host=db", "--exit-code=1", "--message="+tc.name)...)
		printed = append(printed, out, errOut)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", tc.name, code, errOut)
		}
		if got := !strings.Contains(errOut, "exporter not nudged"); got != tc.nudged || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: nudged %v, want %v with %q:\n%s", tc.name, got, tc.nudged, tc.want, errOut)
		}
	}
	e.waitFor(t, "the nudged failure without a refresh", func(s scrape) bool {
		v, ok := s.value("backup_last_failure_info", "host", "db", "message", "CA and credentials")
		return ok && v == 1
	})

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"credentials in the URL", []string{"--exporter.url=https://" + user + ":" + password + "@127.0.0.1:1"}, "--exporter.basic-auth-file"},
		{"an auth file others can read", []string{exporterURL, "--exporter.basic-auth-file=" + openAuth}, "readable by group or others"},
		{"an auth file without USER:PASSWORD", []string{exporterURL, "--exporter.basic-auth-file=" + badAuth}, "USER:PASSWORD"},
		{"a missing auth file", []string{exporterURL, "--exporter.basic-auth-file=" + filepath.Join(dir, "nope")}, "--exporter.basic-auth-file"},
		{"a CA file with no certificate", []string{exporterURL, "--exporter.ca-file=" + badAuth}, "no PEM certificate"},
	} {
		code, out, errOut := cli(t, append(append([]string{store}, tc.args...), "record", "--status=success", "--host=web")...)
		printed = append(printed, out, errOut)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want %d with %q", tc.name, code, errOut, exitUsage, tc.want)
		}
	}
	if code, _ := e.get(t, "/-/healthy"); code != http.StatusOK {
		t.Fatalf("serve: /-/healthy %d", code)
	}
	if s := e.scrape(t); s.status("web") != "" {
		t.Errorf("a refused command wrote web's record")
	}
	for _, p := range append(printed, e.log.String()) {
		if strings.Contains(p, password) {
			t.Fatalf("the password was printed:\n%s", p)
		}
	}
}
