package main

import (
	"testing"
	"time"
)

// TestServeLocalStoreSeesRecordsAtOnce: the quick start. serve on a local
// store refreshes once an hour, yet a record written without
// --exporter.url (a new host, then a failure of a known one) is served
// within seconds: serve watches the store's directory.
func TestServeLocalStoreSeesRecordsAtOnce(t *testing.T) {
	t.Setenv("BACKUPWATCH_EXPORTER_URL", "")
	t.Setenv("BACKUPWATCH_SPOOL_DIR", t.TempDir())
	store := "--store.dir=" + t.TempDir()
	if code, _, errOut := cli(t, store, "record", "--status=success", "--host=db"); code != exitOK {
		t.Fatalf("record db: exit %d: %s", code, errOut)
	}
	e := startExporter(t, []string{store}, "--refresh.interval=1h")
	e.waitFor(t, "the first refresh", func(s scrape) bool { return s.status("db") == "success" })

	// Far shorter than the hour of the refresh, and long enough for a
	// busy machine: the watch itself answers within a second.
	const deadline = 20 * time.Second
	waitShort := func(what string, cond func(s scrape) bool) {
		t.Helper()
		t0 := time.Now()
		for !cond(e.scrape(t)) {
			if time.Since(t0) > deadline {
				t.Fatalf("waited %v for %s with --refresh.interval=1h; last scrape:\n%s", deadline, what, e.scrape(t).text)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%s: served %v after the record", what, time.Since(t0).Round(time.Millisecond))
	}
	if code, _, errOut := cli(t, store, "record", "--status=failed", "--host=db", "--exit-code=1", "--message=disk full"); code != exitOK {
		t.Fatalf("record db failed: exit %d: %s", code, errOut)
	}
	waitShort("db failed", func(s scrape) bool { return s.status("db") == "failed" })
	if code, _, errOut := cli(t, store, "record", "--status=failed", "--host=web"); code != exitOK {
		t.Fatalf("record web: exit %d: %s", code, errOut)
	}
	waitShort("a new host, web", func(s scrape) bool { return s.status("web") == "failed" })
}
