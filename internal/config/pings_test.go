package config

import (
	"strings"
	"testing"
)

func TestPingURL(t *testing.T) {
	c, err := Parse([]byte(`
pings:
  url: https://hc.example/ping/K3y-s3cret/{host}-{job}
  urls:
    db: https://hc.example/ping/0f2a4b6c-db
    db@pg_dump: https://hc.example/ping/0f2a4b6c-dump
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ host, job, want string }{
		{"db", "", "https://hc.example/ping/0f2a4b6c-db"},
		{"db", "pg_dump", "https://hc.example/ping/0f2a4b6c-dump"},
		{"db", "files", "https://hc.example/ping/K3y-s3cret/db-files"},
		{"web", "", "https://hc.example/ping/K3y-s3cret/web-backup"},
	} {
		kind, u, ok := c.PingURL(tc.host, tc.job)
		if !ok || u != tc.want || kind != "healthchecks" {
			t.Errorf("PingURL(%s, %s) = %s, %s, %v; want healthchecks, %s", tc.host, tc.job, kind, u, ok, tc.want)
		}
	}
	if _, _, ok := (&Config{}).PingURL("db", ""); ok {
		t.Error("no pings key: want none")
	}
}

func TestPingsBadInput(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"pings: {url: 'file:///etc/x'}", "points at a file"},
		{"pings: {url: 'https://u:s3cretpass@hc.example/{host}'}", "credentials"},
		{"pings: {url: 'https://hc.example/{hostname}'}", "unknown placeholder {hostname}"},
		{"pings: {kind: nagios, url: 'https://hc.example/{host}'}", "must be healthchecks or uptime-kuma"},
		{"pings: {urls: {'bad host': 'https://hc.example/x'}}", "not a host or host@job"},
		{"pings: {urls: {db: 'ftp://hc.example/x'}}", "http or https"},
		{"pings: {}", "give url"},
		{"pings: {url: 'https://hc.example/x', extra: 1}", "extra"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cretpass") {
			t.Errorf("%s: the error quotes the URL: %v", tc.yaml, err)
		}
	}
}
