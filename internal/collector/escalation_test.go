package collector

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestEscalationSeries: the config file's page_after is exported per host
// and job as backup_page_after_failures and backup_page_after_seconds, in
// one family each with the host series' label sets, served and gathered
// alike; a record without page_after has neither (it pages at once).
func TestEscalationSeries(t *testing.T) {
	dir := t.TempDir()
	at := func(d time.Duration) string { return status.FormatTime(testNow.Add(d)) }
	docs := map[string]string{
		"db":                       `{"status":"failed","last_success":"` + at(-30*time.Hour) + `","consecutive_failures":"2"}`,
		"web":                      `{"status":"success","last_success":"` + at(-time.Hour) + `"}`,
		"mail":                     `{"status":"success","last_success":"` + at(-time.Hour) + `"}`,
		status.Key("db", "dump"):   `{"status":"failed","last_failure":"` + at(-time.Hour) + `"}`,
		status.Key("files", "nas"): `{"status":"success","last_success":"` + at(-time.Hour) + `"}`,
	}
	if err := os.MkdirAll(filepath.Join(dir, status.JobsFolder), 0o750); err != nil {
		t.Fatal(err)
	}
	for k, doc := range docs {
		if err := os.WriteFile(filepath.Join(dir, k+".json"), []byte(doc), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	src, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`
hosts:
  - name: db
    page_after: {failures: 3, or: 12h}
    jobs:
      - name: dump
        page_after: {or: 1d}
schedules:
  - host: "files"
    page_after: {failures: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Source: src, Escalation: cfg, Now: func() time.Time { return testNow }})
	if snap := c.Refresh(context.Background()); snap.Err != nil {
		t.Fatal(snap.Err)
	}
	rec := httptest.NewRecorder()
	NewHandler(c, nil, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var gathered bytes.Buffer
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&gathered, mf)
	}
	for name, text := range map[string]string{"served": rec.Body.String(), "gathered": gathered.String()} {
		p := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := p.TextToMetricFamilies(strings.NewReader(text)); err != nil {
			t.Errorf("%s: not one family per name: %v", name, err)
		}
		for _, want := range []string{
			`backup_page_after_failures{host="db"} 3`,
			`backup_page_after_seconds{host="db"} 43200`,
			`backup_page_after_seconds{backup_job="dump",host="db"} 86400`,
			`backup_page_after_failures{backup_job="nas",host="files"} 5`,
		} {
			if !strings.Contains(text, want+"\n") {
				t.Errorf("%s: no line %q", name, want)
			}
		}
		for _, never := range []string{`backup_page_after_failures{backup_job="dump"`, `backup_page_after_seconds{backup_job="nas"`, `{host="web"} `, `{host="mail"} `} {
			if strings.Contains(text, never) && strings.Contains(text, "backup_page_after") {
				for l := range strings.Lines(text) {
					if strings.HasPrefix(l, "backup_page_after") && strings.Contains(l, never) {
						t.Errorf("%s: has %q", name, strings.TrimSpace(l))
					}
				}
			}
		}
	}
	problems, err := testutil.CollectAndLint(c, "backup_page_after_failures", "backup_page_after_seconds")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	none := New(Options{Source: src, Now: func() time.Time { return testNow }})
	none.Refresh(context.Background())
	if n := testutil.CollectAndCount(none, "backup_page_after_failures", "backup_page_after_seconds"); n != 0 {
		t.Errorf("without a config: %d page_after series, want none", n)
	}
}
