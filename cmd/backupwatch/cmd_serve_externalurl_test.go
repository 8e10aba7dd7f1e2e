package main

import (
	"strings"
	"testing"
)

// TestServeExternalURL: serve exports --web.external-url (without its
// trailing slash) as backupwatch_web_info, which the alert texts use to
// link to a host's tile; without the flag there is no such series.
func TestServeExternalURL(t *testing.T) {
	store := "--store.dir=" + t.TempDir()
	e := startExporter(t, []string{store}, "--web.external-url=https://backupwatch.example.org/", "--host=db")
	s := e.waitFor(t, "a first refresh", storeUp(1))
	if v, ok := s.value("backupwatch_web_info", "external_url", "https://backupwatch.example.org"); !ok || v != 1 {
		t.Errorf("backupwatch_web_info{external_url=\"https://backupwatch.example.org\"} = %v, %v; want 1\n%s", v, ok, s.text)
	}
	if v, ok := s.value("backup_record_present", "host", "db"); !ok || v != 0 {
		t.Errorf("backup_record_present{host=\"db\"} = %v, %v; want 0 (expected, no record)", v, ok)
	}
	e.stop(t)

	e = startExporter(t, []string{store})
	s = e.waitFor(t, "a first refresh", storeUp(1))
	if strings.Contains(s.text, "backupwatch_web_info{") {
		t.Errorf("backupwatch_web_info without --web.external-url:\n%s", s.text)
	}
	e.stop(t)
}

// TestServeExternalURLRefused: a URL that is not a plain absolute link, or
// that carries credentials (they would be shown in every alert), is a
// usage error before anything starts, saying why and never echoing a
// password.
func TestServeExternalURLRefused(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"backupwatch.example.org", "absolute http:// or https:// URL"},
		{"ftp://backupwatch.example.org/", "absolute http:// or https:// URL"},
		{"https://", "absolute http:// or https:// URL"},
		{"https://admin:s3cret@backupwatch.example.org/", "user name or password"},
		{"https://backupwatch.example.org/?q=db", "query or fragment"},
		{"https://backupwatch.example.org/#x", "query or fragment"},
		{"https://backupwatch.example.org/" + strings.Repeat("a", 600), "longer than 512"},
		{"http://[::1", "not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url[:min(len(tt.url), 40)], func(t *testing.T) {
			code, out, errOut := cli(t, "--store.dir="+t.TempDir(), "serve", "--web.listen-address=127.0.0.1:0", "--web.external-url="+tt.url)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("serve --web.external-url=%q: exit %d, stderr %q; want exit %d and %q", tt.url, code, errOut, exitUsage, tt.want)
			}
			if strings.Contains(out+errOut, "s3cret") {
				t.Errorf("the password reached the output: %q", out+errOut)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n > 0 {
				t.Errorf("error is %d lines, want one: %q", n+1, errOut)
			}
		})
	}
}
