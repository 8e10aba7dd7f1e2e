package collector

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/schedule"
	"github.com/golemtrust/backupwatch/internal/status"
)

type centralSchedules map[status.JobID]schedule.Schedule

func (c centralSchedules) Schedule(host, job string) (schedule.Schedule, bool) {
	s, ok := c[status.JobID{Host: host, Job: job}]
	return s, ok
}

// TestJobFamilies: jobs are exported in their host families with a
// backup_job label, the runbook's host series keep their label sets, every
// family appears once in /metrics (as served and as the textfile mode
// gathers it), and each record carries its deadline and schedule.
func TestJobFamilies(t *testing.T) {
	dir := t.TempDir()
	at := func(d time.Duration) string { return status.FormatTime(testNow.Add(-d)) }
	docs := map[string]string{
		"db":                      `{"status":"success","last_success":"` + at(2*time.Hour) + `"}`,
		status.Key("db", "files"): `{"status":"failed","last_success":"` + at(30*time.Minute) + `","last_failure":"` + at(5*time.Minute) + `","exit_code":"10","message":"repository not found","schedule":"1h","grace_seconds":"600"}`,
		status.Key("db", "image"): `{"status":"success","last_success":"` + at(72*time.Hour) + `","last_attempt":"` + at(3*time.Hour) + `","schedule":"7d","grace_seconds":"7200"}`,
		status.Key("web", "dump"): `{"status":"success","last_success":"` + at(time.Hour) + `","schedule":"0 3 * * *","schedule_tz":"Europe/Berlin"}`,
		status.Key(status.RestoreTestKey, "monthly"): `{"result":"failed","last_test":"` + at(24*time.Hour) + `","host_tested":"db","notes":"PG_VERSION missing"}`,
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
	daily, _ := schedule.Interval(24*time.Hour, time.Hour)
	c := New(Options{
		Source:   src,
		Expected: []string{"auth"},
		Jobs:     []status.JobID{{Host: "auth", Job: "ldap"}},
		Schedule: centralSchedules{{Host: "web", Job: "dump"}: daily},
		Now:      func() time.Time { return testNow },
	})
	if snap := c.Refresh(context.Background()); snap.Err != nil {
		t.Fatal(snap.Err)
	}

	rec := httptest.NewRecorder()
	NewHandler(c, nil, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	served := rec.Body.String()
	reg := prometheus.NewRegistry() // as the textfile command gathers
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var gathered bytes.Buffer
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&gathered, mf)
	}
	for name, text := range map[string]string{"served": served, "gathered": gathered.String()} {
		p := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := p.TextToMetricFamilies(strings.NewReader(text)); err != nil {
			t.Errorf("%s: not one family per name: %v", name, err)
		}
		for _, want := range []string{
			`backup_status{host="db",status="success"} 1`,
			`backup_status{backup_job="files",host="db",status="failed"} 1`,
			`backup_status{backup_job="ldap",host="auth",status="unknown"} 1`,
			`backup_record_present{backup_job="ldap",host="auth"} 0`,
			`backup_last_failure_info{backup_job="files",exit_code="10",host="db",message="repository not found"} 1`,
			`backup_last_success_age_seconds{host="db"} 7200`,
			`backup_last_success_age_seconds{backup_job="image",host="db"} 259200`,
			`backup_deadline_timestamp_seconds{host="db"} ` + fmtTS(testNow.Add(22*time.Hour)),
			`backup_deadline_timestamp_seconds{backup_job="files",host="db"} ` + fmtTS(testNow.Add(40*time.Minute)),
			`backup_deadline_timestamp_seconds{backup_job="image",host="db"} ` + fmtTS(testNow.Add(98*time.Hour)),
			`backup_deadline_timestamp_seconds{backup_job="dump",host="web"} ` + fmtTS(testNow.Add(24*time.Hour)),
			`backup_schedule_info{backup_job="files",host="db",schedule="every 1h, grace 10m",source="record"} 1`,
			`backup_schedule_info{backup_job="dump",host="web",schedule="every 1d, grace 1h",source="config"} 1`,
			`backup_run_deadline_timestamp_seconds{backup_job="image",host="db"} ` + fmtTS(testNow.Add(-time.Hour)),
			`backup_restore_test_passed{backup_job="monthly"} 0`,
			`backup_restore_test_failure_info{backup_job="monthly",notes="PG_VERSION missing"} 1`,
			`backup_restore_test_age_seconds{backup_job="monthly"} 86400`,
			`backupwatch_hosts 1`, // db; auth reports through its job, web has jobs only
		} {
			if !strings.Contains(text, want+"\n") {
				t.Errorf("%s: no line %q", name, want)
			}
		}
		for _, never := range []string{`backup_schedule_info{host="db"`, `backup_status{host="web"`, `backup_status{host="auth"`, `backup_job=""`, `exported_job`} {
			if strings.Contains(text, never) {
				t.Errorf("%s: has %q", name, never)
			}
		}
	}
}

// fmtTS is t as the text format writes a timestamp gauge.
func fmtTS(t time.Time) string { return strconv.FormatFloat(float64(t.Unix()), 'g', -1, 64) }
