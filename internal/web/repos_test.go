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
