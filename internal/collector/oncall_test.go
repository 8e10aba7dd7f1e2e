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

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

type hostLabels map[string]map[string]string

func (h hostLabels) HostLabels(host string) map[string]string { return h[host] }

// TestPausesAndLabels: a host's pause and a job's are exported as their
// ends, in one family with the host series' label sets; the config's
// labels are one backup_host_info per host with labels (including a host
// reporting through jobs only), none for a host without; every family
// appears once, served and gathered alike, and passes the linter.
func TestPausesAndLabels(t *testing.T) {
	dir := t.TempDir()
	at := func(d time.Duration) string { return status.FormatTime(testNow.Add(d)) }
	docs := map[string]string{
		"db":                           `{"status":"success","last_success":"` + at(-2*time.Hour) + `"}`,
		"web":                          `{"status":"failed","last_failure":"` + at(-time.Hour) + `"}`,
		status.Key("files", "nightly"): `{"status":"success","last_success":"` + at(-time.Hour) + `"}`,
		status.PauseKey("db", ""):      `{"until":"` + at(2*time.Hour) + `","reason":"kernel <b>upgrade</b>","paused_at":"` + at(-time.Minute) + `"}`,
		status.PauseKey("web", "dump"): `{"until":"` + at(-time.Hour) + `","reason":"done","resumed_at":"` + at(-time.Hour) + `"}`,
		status.PauseKey("web", "bad"):  `{"reason":"no end"}`,
	}
	for _, f := range []string{status.JobsFolder, status.PausesFolder} {
		if err := os.MkdirAll(filepath.Join(dir, f), 0o750); err != nil {
			t.Fatal(err)
		}
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
	c := New(Options{
		Source: src,
		Labels: hostLabels{"db": {"team": "dba", "env": "prod"}, "files": {"team": "storage"}, "gone": {"team": "x"}},
		Now:    func() time.Time { return testNow },
	})
	snap := c.Refresh(context.Background())
	if snap.Err != nil {
		t.Fatal(snap.Err)
	}
	if len(snap.Problems) != 0 {
		t.Errorf("store problems %v: the pauses folder is not one", snap.Problems)
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
			`backup_paused_until_timestamp_seconds{host="db"} ` + fmtTS(testNow.Add(2*time.Hour)),
			`backup_paused_until_timestamp_seconds{backup_job="dump",host="web"} ` + fmtTS(testNow.Add(-time.Hour)),
			`backup_host_info{env="prod",host="db",team="dba"} 1`,
			`backup_host_info{host="files",team="storage"} 1`,
			`backupwatch_store_problems 0`,
		} {
			if !strings.Contains(text, want+"\n") {
				t.Errorf("%s: no line %q", name, want)
			}
		}
		for _, never := range []string{`backup_host_info{host="web"`, `host="gone"`, `backup_job="bad"`, `upgrade`} {
			if strings.Contains(text, never) {
				t.Errorf("%s: has %q", name, never)
			}
		}
	}
	problems, err := testutil.CollectAndLint(c, "backup_paused_until_timestamp_seconds", "backup_host_info")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	if p, ok := snap.Pause("db", ""); !ok || p.Reason != "kernel <b>upgrade</b>" || !p.Active(testNow) {
		t.Errorf("db's pause: %+v, %v", p, ok)
	}
}
