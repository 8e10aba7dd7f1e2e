package vaultkv

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTLSIsVerified checks that a certificate Vault's client cannot verify
// is refused, and accepted once its CA is given or verification is turned
// off explicitly. The TLS peer is a plain HTTPS server: only the handshake
// is under test.
func TestTLSIsVerified(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"errors":["stand-in"]}`, http.StatusTeapot)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_SKIP_VERIFY", "")
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantTLS bool
	}{
		{"unknown CA", Config{}, true},
		{"CA given", Config{CACert: ca}, false},
		{"verification off", Config{TLSSkipVerify: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Address, cfg.Token, cfg.KVVersion = srv.URL, "hvs.tls-test-token", 2
			s := newStore(t, cfg)
			_, err := s.Get(context.Background(), "db")
			if err == nil {
				t.Fatal("a stand-in answered like Vault")
			}
			if got := strings.Contains(err.Error(), "certificate"); got != tc.wantTLS {
				t.Errorf("error %q: certificate error %v, want %v", err, got, tc.wantTLS)
			}
			if strings.Contains(err.Error(), "hvs.tls-test-token") {
				t.Errorf("error shows the token: %q", err)
			}
		})
	}
}
