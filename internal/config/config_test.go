package config

import (
	"strings"
	"testing"
)

func TestLoadRunbook(t *testing.T) {
	c, err := Load("testdata/runbook.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(c.Hosts, " "), "auth db graylog-1 graylog-2 graylog-3 vault-1 vault-2 vault-3 metrics"; got != want {
		t.Errorf("hosts = %q, want %q", got, want)
	}
	if got, want := c.Title, "Golem Trust backups"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // "" for success
		hosts   int
	}{
		{"empty file", "", "", 0},
		{"comments only", "# nothing yet\n", "", 0},
		{"hosts", "hosts: [a, b.example.org]", "", 2},
		{"unknown key", "hosts: [a]\nhost: [b]\n", "field host not found", 0},
		{"typo in nested", "hots:\n  - a\n", "field hots not found", 0},
		{"duplicate key", "hosts: [a]\nhosts: [b]\n", "already set", 0},
		{"duplicate host", "hosts: [a, b, a]", `"a" is listed twice`, 0},
		{"reserved name", "hosts: [restore-test]", "reserved for the restore test", 0},
		{"bad name", `hosts: ["<script>"]`, "not allowed", 0},
		{"empty name", `hosts: [""]`, "empty", 0},
		{"not a list", "hosts: auth", "cannot unmarshal", 0},
		{"not yaml", "hosts: [a\n", "yaml", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v, want no error", err)
				}
				if len(c.Hosts) != tt.hosts {
					t.Errorf("got %d hosts, want %d", len(c.Hosts), tt.hosts)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := Load("testdata/no-such-file.yml"); err == nil || !strings.Contains(err.Error(), "no-such-file.yml") {
		t.Errorf("Load of a missing file: error %v, want one naming the file", err)
	}
}
