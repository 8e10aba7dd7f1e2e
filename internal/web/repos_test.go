package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/repocheck"
)

// realisticRepos are the records repo-check leaves for two repositories:
// fleet, listed, with its size and the size before it, free space, an
// exclusive lock held by a host whose name is markup (repocheck replaces it), a retention policy
// that db's job lacks restore points of and web-2 keeps too many; offsite,
// not listed. As a record store holds them (JSON), through Parse.
func realisticRepos(t *testing.T) []repocheck.Record {
	t.Helper()
	docs := map[string]string{
		"fleet": `{"checked_at":"2026-11-25T07:00:00Z","status":"success","last_success":"2026-11-25T07:00:00Z","snapshots":"40",
			"size_bytes":"1181116006","size_at":"2026-11-25T07:00:00Z","size_previous_bytes":"1073741824","size_previous_at":"2026-11-24T07:00:00Z",
			"free_bytes":"53687091200","locks_exclusive":"1","locks_shared":"0","locks_unread":"0",
			"oldest_locks":{"exclusive":{"time":"2026-11-25T03:00:00Z","host":"<b>nas</b>","pid":"4242"}},
			"hosts":{
				"db":{"snapshots":"20","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-10-25T02:00:00Z","restore_points_missing":"1","snapshots_allowed":"46",
					"jobs":{"files":{"snapshots":"8","newest_time":"2026-11-25T11:00:00Z","oldest_time":"2026-11-25T04:00:00Z"}}},
				"web-1":{"snapshots":"10","newest_time":"2026-11-25T11:40:00Z","oldest_time":"2026-11-18T02:00:00Z"},
				"web-2":{"snapshots":"10","newest_time":"2026-11-25T09:00:00Z","oldest_time":"2026-11-20T02:00:00Z","restore_points_missing":"0","snapshots_allowed":"4"}}}`,
		"offsite": `{"checked_at":"2026-11-25T08:00:00Z","status":"failed","message":"restic snapshots: Fatal: unable to open repository at s3:backup/offsite"}`,
	}
	var out []repocheck.Record
	for _, name := range []string{"fleet", "offsite"} {
		var doc map[string]any
		if err := json.Unmarshal([]byte(docs[name]), &doc); err != nil {
			t.Fatal(err)
		}
		out = append(out, repocheck.Parse(name, doc))
	}
	return out
}

// TestRepositoriesShown: the page shows per repository its size, growth,
// free space, locks (a hostile holder's name never shown) and retention state, one
// not listed in red; per host (and job) its oldest and newest restore
// point, on a full tile and in a small tile's hover.
func TestRepositoriesShown(t *testing.T) {
	snap := realisticFleet(t)
	repos := realisticRepos(t)
	body := get(t, New(Options{
		Snapshot:     func() *fleet.Snapshot { return snap },
		Repositories: func() []repocheck.Record { return repos },
		Now:          func() time.Time { return testNow },
	}), "/")
	for _, want := range []string{
		`Repositories (2)`,
		`<tr class="amber" data-repository="fleet">`,
		`<td data-size>1.1 GiB</td>`,
		`<td data-growth>&#43;102.4 MiB in 24 h</td>`,
		`<td data-free>50.0 GiB</td>`,
		`1 exclusive, the oldest refreshed 9 h ago by invalid-hostname pid 4242`,
		`1 host lacking restore points (db); 1 host with far more snapshots than kept: forget not running (web-2)`,
		`<tr class="red" data-repository="offsite">`,
		`not listed: restic snapshots: Fatal: unable to open repository at s3:backup/offsite`,
		`<td data-free>not measured (not a local path)</td>`,
		// db is failed: a full tile.
		`restore points: 20 in fleet, oldest <time datetime="2026-10-25T02:00:00Z"`,
		// web-1 is ok: a small tile, its restore points on hover.
		`restore points: 10 in fleet, oldest 7 d 10 h ago, newest 20 min ago`,
		// db's job files.
		`restore points: 8 in fleet, oldest 8 h ago, newest 1 h ago`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>nas</b>") {
		t.Error("a lock holder's host name reached the page unescaped")
	}
	// Without repositories, none of it.
	body = get(t, New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: func() time.Time { return testNow }}), "/")
	if strings.Contains(body, "data-repositories") || strings.Contains(body, "restore points:") {
		t.Error("repositories shown without any checked")
	}
}

// TestRetentionStateShown: the repository's retention state says each
// finding of BackupRestorePointsMissing and BackupRetentionNotApplied, for
// the part (the host's own snapshots, or one job's) it is about: an oldest
// snapshot beyond the policy (forget not running, by count too few to
// show), a job's missing restore points or its far too many snapshots
// named as host@job, never hidden in, or blamed on, its host's sums.
func TestRetentionStateShown(t *testing.T) {
	doc := `{"checked_at":"2026-11-25T07:00:00Z","status":"success","last_success":"2026-11-25T07:00:00Z","snapshots":"80",
		"hosts":{
			"pruned":{"snapshots":"5","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-20T02:00:00Z","restore_points_missing":"0","snapshots_allowed":"6","oldest_beyond_policy":"1"},
			"db":{"snapshots":"12","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-10T02:00:00Z","restore_points_missing":"2","snapshots_allowed":"16",
				"jobs":{"pg_dump":{"snapshots":"10","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-10T02:00:00Z","restore_points_missing":"2","snapshots_allowed":"14","oldest_beyond_policy":"0"}}},
			"web":{"snapshots":"35","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-01T02:00:00Z","restore_points_missing":"0","snapshots_allowed":"50","oldest_beyond_policy":"0",
				"jobs":{"files":{"snapshots":"30","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-01T02:00:00Z","restore_points_missing":"0","snapshots_allowed":"10","oldest_beyond_policy":"0"}}},
			"mail":{"snapshots":"4","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-09-01T02:00:00Z","restore_points_missing":"0","snapshots_allowed":"4",
				"jobs":{"files":{"snapshots":"4","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-09-01T02:00:00Z","restore_points_missing":"0","snapshots_allowed":"4","oldest_beyond_policy":"1"}}},
			"ok":{"snapshots":"7","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-18T02:00:00Z","restore_points_missing":"0","snapshots_allowed":"14","oldest_beyond_policy":"0"}}}`
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	repos := []repocheck.Record{repocheck.Parse("fleet", m)}
	body := get(t, New(Options{
		Snapshot:     func() *fleet.Snapshot { return realisticFleet(t) },
		Repositories: func() []repocheck.Record { return repos },
		Now:          func() time.Time { return testNow },
	}), "/")
	want := `<td data-retention>1 host lacking restore points (db@pg_dump); ` +
		`1 host with far more snapshots than kept: forget not running (web@files); ` +
		`2 hosts whose oldest snapshot the policy no longer keeps: forget not running (mail@files, pruned)</td>`
	if !strings.Contains(body, want) {
		i := strings.Index(body, "data-retention")
		t.Errorf("page lacks %q; has %q", want, body[i:min(i+400, len(body))])
	}
	if !strings.Contains(body, `<tr class="amber" data-repository="fleet">`) {
		t.Errorf("a repository whose retention is not applied is not amber")
	}
	// The oldest beyond the policy alone makes the repository amber.
	only := `{"checked_at":"2026-11-25T07:00:00Z","status":"success","last_success":"2026-11-25T07:00:00Z","snapshots":"5",
		"hosts":{"pruned":{"snapshots":"5","newest_time":"2026-11-25T02:00:00Z","oldest_time":"2026-11-20T02:00:00Z","restore_points_missing":"0","snapshots_allowed":"6","oldest_beyond_policy":"1"}}}`
	if err := json.Unmarshal([]byte(only), &m); err != nil {
		t.Fatal(err)
	}
	repos = []repocheck.Record{repocheck.Parse("fleet", m)}
	body = get(t, New(Options{
		Snapshot:     func() *fleet.Snapshot { return realisticFleet(t) },
		Repositories: func() []repocheck.Record { return repos },
		Now:          func() time.Time { return testNow },
	}), "/")
	for _, want := range []string{`<tr class="amber" data-repository="fleet">`, `<td data-retention>1 host whose oldest snapshot the policy no longer keeps: forget not running (pruned)</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("pruned alone: page lacks %q", want)
		}
	}
}
