package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStatusFirstRunRunning (issue 24): a job on a schedule whose first
// run is in progress is "running", due one period after its start; not
// "overdue" with a due time in the future.
func TestStatusFirstRunRunning(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "records")
	if err := os.MkdirAll(filepath.Join(store, "jobs"), 0o700); err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-5 * time.Minute).UTC().Format(time.RFC3339)
	if err := os.WriteFile(filepath.Join(store, "jobs", "web@nightly.json"), []byte(`{"last_attempt": "`+started+`"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "backupwatch.yml")
	if err := os.WriteFile(config, []byte("schedules:\n  - job: nightly\n    every: 1d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, errOut := cli(t, "--store.dir="+store, "status", "--config.file="+config)
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "web@nightly") {
			line = l
		}
	}
	if !strings.Contains(line, "unknown (running)") || strings.Contains(line, "overdue") {
		t.Errorf("status of a first run in progress: %q, want unknown (running)\n%s%s", line, out, errOut)
	}
}
