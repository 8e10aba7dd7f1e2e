package config

import (
	"strings"
	"testing"
	"time"
)

// TestEscalation: page_after set fleet-wide, per schedules pattern, per
// host and per job; the most specific wins, and without any a failure
// pages at once (no escalation).
func TestEscalation(t *testing.T) {
	c, err := Parse([]byte(`
page_after: {failures: 2}
hosts:
  - name: db
    page_after: {failures: 3, or: 12h}
    jobs:
      - name: dump
        page_after: {or: 1d}
      - name: files
  - web
schedules:
  - host: "nas-*"
    page_after: {failures: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host, job string
		want      Escalation
	}{
		{"db", "", Escalation{Failures: 3, After: 12 * time.Hour}},
		{"db", "dump", Escalation{After: 24 * time.Hour}},
		{"db", "files", Escalation{Failures: 3, After: 12 * time.Hour}},
		{"nas-1", "", Escalation{Failures: 5}},
		{"nas-1", "photos", Escalation{Failures: 5}},
		{"web", "", Escalation{Failures: 2}},
		{"other", "x", Escalation{Failures: 2}},
	} {
		if got, ok := c.Escalation(tt.host, tt.job); !ok || got != tt.want {
			t.Errorf("Escalation(%s, %q) = %+v, %v; want %+v, true", tt.host, tt.job, got, ok, tt.want)
		}
	}
	if _, ok := c.Schedule("nas-1", ""); ok {
		t.Errorf("nas-1 has a schedule: a page_after-only pattern sets none")
	}
	none, err := Parse([]byte("hosts: [db]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := none.Escalation("db", ""); ok {
		t.Errorf("without page_after: %+v, true; want none (a failure pages at once)", e)
	}
}

// TestEscalationBadInput: every bad page_after is an error naming where.
func TestEscalationBadInput(t *testing.T) {
	for _, tt := range []struct{ file, want string }{
		{"page_after: {failures: -1}", "page_after.failures: -1: must be 1"},
		{"page_after: {failures: 0}", "page_after.failures: 0: must be 1"},
		{"page_after: {failures: 100000}", "must be 1 (page at the first failure) to 1000"},
		{"page_after: {or: soon}", `page_after.or: not a duration (e.g. 1h, 24h, 7d): "soon"`},
		{"page_after: {or: -2h}", "page_after.or"},
		{"page_after: {or: 0s}", "page_after.or: 0s: must be more than 0"},
		{"page_after: {or: 400d}", "at most 90d"},
		{"page_after: {}", "give failures (a count), or (a duration), or both"},
		{"page_after: {failures: 3, after: 12h}", "field after not found"},
		{"page_after: {failures: three}", "cannot unmarshal"},
		{"hosts:\n  - name: db\n    page_after: {failures: -3}", "hosts[0].page_after.failures: -3"},
		{"hosts:\n  - name: db\n    jobs:\n      - name: dump\n        page_after: {or: 1x}", "hosts[0].jobs[0].page_after.or"},
		{"schedules:\n  - host: web\n    page_after: {failures: 0}", "schedules[0].page_after.failures: 0"},
		{"schedules:\n  - host: web\n    page_after: {failure: 3}", "field failure not found"},
	} {
		_, err := Parse([]byte(tt.file))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one saying %q", tt.file, err, tt.want)
		}
	}
}
