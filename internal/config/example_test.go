package config

import (
	"maps"
	"testing"
)

// TestExampleOwners: the shipped example's owners are labels, each host
// of a team gets that team's, and every host is prod.
func TestExampleOwners(t *testing.T) {
	c, err := Load("../../deploy/examples/config.yml")
	if err != nil {
		t.Fatal(err)
	}
	for host, team := range map[string]string{"auth-1": "platform", "db-2": "databases", "web-6": "web", "metrics": "observability", "loki-1": "observability", "git": "office-it", "files-1": "office-it"} {
		got := c.HostLabels(host)
		if got["team"] != team || got["env"] != "prod" || got["owner"] == "" {
			t.Errorf("%s: labels %v, want team %s, an owner and env prod", host, got, team)
		}
	}
	for _, h := range c.Hosts {
		if ls := c.HostLabels(h); len(ls) != 3 {
			t.Errorf("%s: labels %v", h, maps.Collect(maps.All(ls)))
		}
	}
}
