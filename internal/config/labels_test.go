package config

import (
	"maps"
	"strings"
	"testing"
)

// TestLabels: hosts and schedules patterns carry labels; a host entry's
// override a pattern's, the first matching pattern wins per label, and a
// labels-only pattern sets no schedule.
func TestLabels(t *testing.T) {
	c, err := Parse([]byte(`
hosts:
  - name: db
    labels: {team: dba, owner: "Cheery Littlebottom", env: prod}
  - web
  - name: files-1
    labels: {owner: alice}
schedules:
  - host: "files-*"
    labels: {team: storage, env: prod}
  - host: "files-*"
    every: 1h
    labels: {team: ignored, tier: gold}
  - host: "*"
    labels: {env: unknown}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host string
		want map[string]string
	}{
		{"db", map[string]string{"team": "dba", "owner": "Cheery Littlebottom", "env": "prod"}},
		{"files-1", map[string]string{"team": "storage", "env": "prod", "owner": "alice", "tier": "gold"}},
		{"files-2", map[string]string{"team": "storage", "env": "prod", "tier": "gold"}},
		{"web", map[string]string{"env": "unknown"}},
	} {
		if got := c.HostLabels(tt.host); !maps.Equal(got, tt.want) {
			t.Errorf("HostLabels(%s) = %v, want %v", tt.host, got, tt.want)
		}
	}
	if _, ok := c.Schedule("web", ""); ok {
		t.Errorf("web has a schedule: a labels-only pattern sets none")
	}
	if s, ok := c.Schedule("files-2", ""); !ok || s.String() != "every 1h" {
		t.Errorf("files-2's schedule = %v, %v; want every 1h from the second pattern", s, ok)
	}
	var nilConfig *Config
	if got := nilConfig.HostLabels("db"); got != nil {
		t.Errorf("no config: labels %v", got)
	}
}

// TestBadLabels: names Prometheus or backupwatch own, invalid names and
// values that are not one line of plain text are refused, each saying
// where.
func TestBadLabels(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`hosts: [{name: db, labels: {job: x}}]`, `hosts[0].labels: "job" is Prometheus'`},
		{`hosts: [{name: db, labels: {instance: x}}]`, `"instance" is Prometheus'`},
		{`hosts: [{name: db, labels: {__name__: x}}]`, `"__name__"`},
		{`hosts: [{name: db, labels: {__meta: x}}]`, `starts with __`},
		{`hosts: [{name: db, labels: {host: x}}]`, `"host" is backupwatch's`},
		{`hosts: [{name: db, labels: {backup_job: x}}]`, `"backup_job" is backupwatch's`},
		{`hosts: [{name: db, labels: {alertname: x}}]`, `"alertname"`},
		{`hosts: [{name: db, labels: {severity: x}}]`, `"severity"`},
		{`hosts: [{name: db, labels: {1team: x}}]`, `not a label name`},
		{`hosts: [{name: db, labels: {te-am: x}}]`, `not a label name`},
		{`hosts: [{name: db, labels: {"": x}}]`, `not a label name`},
		{`hosts: [{name: db, labels: {team: ""}}]`, `team: empty value`},
		{`hosts: [{name: db, labels: {team: "a\nb"}}]`, `team: the value has a control character`},
		{`hosts: [{name: db, labels: {team: "a\"b"}}]`, `team: the value has a quote or backslash`},
		{`hosts: [{name: db, labels: {team: "a\\b"}}]`, `team: the value has a quote or backslash`},
		{`hosts: [{name: db, labels: {team: "` + strings.Repeat("x", 201) + `"}}]`, `team: the value is 201 characters`},
		{`schedules: [{host: "db*", labels: {job: x}}]`, `schedules[0].labels: "job" is Prometheus'`},
		{`schedules: [{host: "db*", job: files, labels: {team: x}}]`, `schedules[0]: labels are a host's: a pattern with labels matches hosts, not jobs`},
		{`schedules: [{host: "db*"}]`, `schedules[0]: a schedule needs every or cron`},
	} {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%.60s) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}
