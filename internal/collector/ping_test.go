package collector

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestPingFailures: a run's failed pings (run --ping.url) are exported
// from its record, as a host's and as a job's.
func TestPingFailures(t *testing.T) {
	dir := t.TempDir()
	for key, doc := range map[string]string{
		"web":                        `{"status":"success","last_success":"2026-11-25T02:00:00Z","ping_failures":"2"}`,
		status.Key("web", "dump"):    `{"status":"success","last_success":"2026-11-25T02:00:00Z","ping_failures":"1"}`,
		status.Key("web", "nopings"): `{"status":"success","last_success":"2026-11-25T02:00:00Z"}`,
	} {
		f := filepath.Join(dir, key+".json")
		if err := os.MkdirAll(filepath.Dir(f), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(doc), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	st, err := localstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestCollector(st)
	c.Refresh(context.Background())
	if v := value(t, c, "backup_last_run_ping_failures", "host", "web"); v != 2 {
		t.Errorf("host: got %v, want 2", v)
	}
	if v := value(t, c, "backup_last_run_ping_failures", "host", "web", BackupJobLabel, "dump"); v != 1 {
		t.Errorf("job: got %v, want 1", v)
	}
}
