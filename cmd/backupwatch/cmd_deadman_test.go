package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeadmanFlags: what deadman refuses before it starts, with exit 2 and
// a clear message that never holds a secret.
func TestDeadmanFlags(t *testing.T) {
	dir := t.TempDir()
	url := filepath.Join(dir, "slack-url")
	os.WriteFile(url, []byte("https://hooks.slack.com/services/T0/B0/SECRETSECRET\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"deadman"}, "nobody to tell"},
		{[]string{"deadman", "--slack.webhook-url-file=" + url, "--timeout=0s"}, "--timeout must be between 1s and 7d"},
		{[]string{"deadman", "--slack.webhook-url-file=" + url, "--timeout=2h", "--reminder=1h"}, "--reminder (1h0m0s) must be at least --timeout"},
		{[]string{"deadman", "--slack.webhook-url-file=" + empty}, "want one non-empty line"},
		{[]string{"deadman", "--slack.webhook-url-file=" + filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"deadman", "--email.smarthost=relay", "--email.from=a@example.org", "--email.to=b@example.org"}, "--email.smarthost must be host:port"},
		{[]string{"deadman", "--email.smarthost=relay:587", "--email.from=a@example.org"}, "--email.to is required"},
		{[]string{"deadman", "--email.smarthost=relay:587", "--email.from=not an address", "--email.to=b@example.org"}, "must be addresses"},
		{[]string{"deadman", "--slack.webhook-url-file=" + url, "--sender=http://am-1:9093", "--sender="}, "--sender"},
		{[]string{"deadman", "--slack.webhook-url-file=" + url, "--web.config.file=" + empty + "x"}, "--web.config.file"},
	}
	for _, tt := range tests {
		code, out, errOut := cli(t, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args[1:], code, errOut, exitUsage, tt.want)
		}
		if strings.Contains(out+errOut, "SECRET") {
			t.Errorf("%v: the webhook URL appears in the output", tt.args[1:])
		}
	}
}
