package collector

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestInfoText(t *testing.T) {
	long := strings.Repeat("é", 300)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Fatal: unable to open repository", "Fatal: unable to open repository"},
		{"empty", "", ""},
		{"lines joined", "line one\nline two\r\n\tline three\n", "line one line two line three"},
		{"control characters", "a\x00b\x1b[31mred\x1b[0m\x7fc", "a b [31mred [0m c"},
		{"line and paragraph separators", "a\u2028b\u2029c\u200bd", "a b c d"},
		{"spaces collapsed and trimmed", "  a   b  ", "a b"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"markup kept as text", `<b>"x"</b> {{ .Labels }}`, `<b>"x"</b> {{ .Labels }}`},
		{"cut at 200 characters", long, strings.Repeat("é", 200) + "…"},
		{"exactly 200", strings.Repeat("x", 200), strings.Repeat("x", 200)},
		{"200 then spaces", strings.Repeat("x", 200) + "   ", strings.Repeat("x", 200)},
		{"cut on a space", strings.Repeat("x", 199) + " y", strings.Repeat("x", 199) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InfoText(tt.in); got != tt.want {
				t.Errorf("InfoText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	// A megabyte of newlines and text stays one bounded line.
	got := InfoText(strings.Repeat("error\n", 1<<20/6))
	if n := utf8.RuneCountInString(got); n > MaxInfoText+1 || strings.ContainsAny(got, "\n\r") {
		t.Errorf("InfoText(1 MiB) = %d characters, newlines %v", n, strings.ContainsAny(got, "\n\r"))
	}
}

// TestAlertingSeries: the series the alert texts query. A failed host has
// one backup_last_failure_info (its exit code and error line, bounded);
// a host that succeeded has none; an expected host without a record has
// backup_record_present 0; a failed restore test has its notes.
func TestAlertingSeries(t *testing.T) {
	records := map[string]string{
		"db": `{"status":"failed","last_success":"2026-11-24T06:00:00+00:00","last_failure":"2026-11-25T02:00:00+00:00","exit_code":"1",
			"message":"Fatal: unable to open config file: Stat: ssh: handshake failed\nsecond line <b>"}`,
		"web":          `{"status":"failed","last_failure":"2026-11-25T02:00:00+00:00","message":"` + strings.Repeat("x", 5000) + `"}`,
		"auth":         `{"status":"success","last_success":"2026-11-25T02:00:00+00:00","exit_code":"0","message":"snapshot saved"}`,
		"restore-test": `{"last_test":"2026-10-01T09:00:00+00:00","result":"failed","host_tested":"db","notes":"failed: /etc/passwd\nmissing from the restore"}`,
	}
	c := newTestCollector(writeStore(t, records), "new-host")
	c.Refresh(context.Background())
	want := `# HELP backup_last_failure_info Exit code and last error line of the host's latest backup, only while that backup is recorded as failed; always 1.
# TYPE backup_last_failure_info gauge
backup_last_failure_info{exit_code="1",host="db",message="Fatal: unable to open config file: Stat: ssh: handshake failed second line <b>"} 1
backup_last_failure_info{exit_code="",host="web",message="` + strings.Repeat("x", MaxInfoText) + `…"} 1
# HELP backup_record_present 1 when the store holds a record for the host, 0 for an expected host with none (it has never reported).
# TYPE backup_record_present gauge
backup_record_present{host="auth"} 1
backup_record_present{host="db"} 1
backup_record_present{host="new-host"} 0
backup_record_present{host="web"} 1
# HELP backup_restore_test_failure_info What the last restore test recorded (its notes, one line), only while it is not recorded as passed; always 1.
# TYPE backup_restore_test_failure_info gauge
backup_restore_test_failure_info{notes="failed: /etc/passwd missing from the restore"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "backup_last_failure_info", "backup_record_present", "backup_restore_test_failure_info"); err != nil {
		t.Error(err)
	}
}

func TestWebInfo(t *testing.T) {
	tests := []struct {
		url, want string
	}{
		{"https://backupwatch.example.org/", `backupwatch_web_info{external_url="https://backupwatch.example.org"} 1` + "\n"},
		{"http://metrics:10036/backups", `backupwatch_web_info{external_url="http://metrics:10036/backups"} 1` + "\n"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			want := ""
			if tt.want != "" {
				want = "# HELP backupwatch_web_info The status page's external URL (serve --web.external-url), for links in alert texts; always 1.\n# TYPE backupwatch_web_info gauge\n" + tt.want
			}
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(WebInfo(tt.url))
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
				t.Error(err)
			}
		})
	}
}
