package amconfig

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const receivers = "../../../deploy/alertmanager/receivers"

var sec = Secrets{PagerDuty: "pd-secret", Opsgenie: "genie-secret", Webhook: "hook-secret", Ntfy: "ntfy-secret", Teams: "sig=teams-secret"}

// TestReceivers: every snippet shipped is known, points at the stand-in
// alone, reads its secrets from the test's files (written as the docs
// say), and names its receiver; no snippet names another's receiver.
func TestReceivers(t *testing.T) {
	entries, err := os.ReadDir(receivers)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	dir := t.TempDir()
	const srv = "http://127.0.0.1:1"
	names := map[string]bool{}
	for i, r := range Receivers(t, receivers, dir, srv, sec, files...) {
		file := files[i]
		if Prefix(file) == "" {
			t.Errorf("%s: no stand-in path", file)
		}
		if names[r.Name] {
			t.Errorf("%s: receiver %q named twice", file, r.Name)
		}
		names[r.Name] = true
		for line := range strings.Lines(r.YAML) {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, gone := range []string{"/etc/prometheus/", "example.org", "ntfy.sh"} {
				if strings.Contains(line, gone) {
					t.Errorf("%s: still names %s: %s", file, gone, line)
				}
			}
		}
		if !strings.Contains(r.YAML, dir) && !strings.Contains(r.YAML, srv+Prefix(file)) {
			t.Errorf("%s: neither a secret file nor the stand-in:\n%s", file, r.YAML)
		}
		for line := range strings.Lines(r.YAML) {
			if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "  ") {
				t.Errorf("%s: line %q not indented under receivers:", file, line)
			}
		}
	}
	for name, want := range map[string]string{"pd": sec.PagerDuty + "\n", "genie": sec.Opsgenie, "hook": sec.Webhook + "\n",
		"ntfy": sec.Ntfy + "\n", "teams": srv + "/teams/workflow?" + sec.Teams + "\n"} {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want {
			t.Errorf("secret file %s: %q, %v; want %q", name, b, err, want)
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("secret file %s: mode %v, %v; want 0600", name, fi.Mode(), err)
		}
	}
}

// TestStub: posts are kept in order with what a channel's reader needs,
// and answered as each service does.
func TestStub(t *testing.T) {
	s := NewStub(t)
	for _, c := range []struct {
		path string
		code int
	}{{"/pagerduty/v2/enqueue", http.StatusAccepted}, {"/opsgenie/v2/alerts", http.StatusAccepted}, {"/ntfy/?x=1", http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+c.path, strings.NewReader("body "+c.path))
		req.Header.Set("Authorization", "Bearer x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.code)
		}
	}
	if n := s.Len(); n != 3 {
		t.Fatalf("%d posts, want 3", n)
	}
	if p := s.Posts("/", 2); len(p) != 1 || p[0].Path != "/ntfy/" || p[0].RawQuery != "x=1" || p[0].Auth != "Bearer x" || string(p[0].Body) != "body /ntfy/?x=1" {
		t.Errorf("posts from the third: %+v", p)
	}
	if p := s.Posts("/opsgenie", 0); len(p) != 1 {
		t.Errorf("opsgenie's posts: %+v", p)
	}
}
