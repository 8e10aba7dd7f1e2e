package repocheck

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/restic"
)

// BenchmarkCheckListing measures what repo-check adds to restic's own
// listing of 100,000 snapshots of 1,000 hosts: restic is a stand-in that
// prints a listing as restic 0.19 does (with each snapshot's summary), so
// what is timed is the pipe, the decoding and the per-host views, not
// restic's decryption. make bench measures the whole against real restic.
func BenchmarkCheckListing(b *testing.B) {
	dir := b.TempDir()
	listing := filepath.Join(dir, "snapshots.json")
	f, err := os.Create(listing)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w.WriteString("[")
	const hosts, snaps = 1000, 100000
	for i := range snaps {
		if i > 0 {
			w.WriteString(",")
		}
		fmt.Fprintf(w, `{"time":%q,"tree":"452d99c2302ceba2f9c5afdb51196f61da5772edf75baade5c4c5146d51dc4a5","paths":["/srv","/etc"],"hostname":"host-%04d.golemtrust.am","username":"root","tags":["backupwatch-job=files"],"program_version":"restic 0.19.1","summary":{"backup_start":%q,"backup_end":%q,"files_new":12,"files_changed":3,"files_unmodified":40000,"dirs_new":0,"dirs_changed":4,"dirs_unmodified":3000,"data_blobs":15,"tree_blobs":5,"data_added":1048576,"data_added_packed":524288,"total_files_processed":40015,"total_bytes_processed":1073741824},"id":"%064x","short_id":"%08x"}`,
			t0.Add(time.Duration(i)*time.Minute).Format(time.RFC3339Nano), i%hosts,
			t0.Add(time.Duration(i)*time.Minute).Format(time.RFC3339Nano), t0.Add(time.Duration(i)*time.Minute+time.Second).Format(time.RFC3339Nano), i, i)
	}
	w.WriteString("]\n")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	bin := filepath.Join(dir, "restic")
	script := "#!/bin/sh\ncase \"$*\" in\n*snapshots*) exec cat " + listing + " ;;\n*stats*) echo '{\"total_size\":1}' ;;\nesac\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		b.Fatal(err)
	}
	repo := restic.Repo{Binary: bin, Repository: "s3:bench/none", Env: []string{"PATH=/usr/bin:/bin"}}
	b.ResetTimer()
	for b.Loop() {
		res := Check(context.Background(), repo, nil, Options{NoSize: true})
		if res.ListErr != nil || res.Total != snaps || len(res.Hosts) != hosts {
			b.Fatalf("listing %v: %d snapshots, %d hosts", res.ListErr, res.Total, len(res.Hosts))
		}
	}
}
