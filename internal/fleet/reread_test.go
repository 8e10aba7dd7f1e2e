package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/status"
)

// failingSource answers every read with a store error.
type failingSource struct{ Source }

func (failingSource) Get(context.Context, string) (map[string]any, error) {
	return nil, errors.New("vault unreachable")
}

// ids names host records.
func ids(hosts ...string) []status.JobID {
	var out []status.JobID
	for _, h := range hosts {
		out = append(out, status.JobID{Host: h})
	}
	return out
}

// everything describes a snapshot's hosts, jobs and restore tests.
func everything(snap *Snapshot) string {
	out := []string{hosts(snap), describeStatus(snap.Jobs.Slice())}
	if snap.RestoreTest != nil {
		out = append(out, "rt="+snap.RestoreTest.Result)
	}
	for _, rt := range snap.RestoreTestJobs {
		out = append(out, "rt@"+rt.Job+"="+rt.Result)
	}
	return strings.Join(out, " | ")
}

func describeStatus(rs []status.Record) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Host+"@"+r.Job+"="+r.Status)
	}
	return strings.Join(out, ",")
}

func TestReread(t *testing.T) {
	s, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	write(t, s, "db", map[string]any{"status": "success"})
	write(t, s, "web", map[string]any{"status": "success"})
	opts := Options{Expected: []string{"metrics"}}
	prev := Load(ctx, s, opts, nil)
	if got, want := hosts(prev), "db=success,metrics=unknown,web=success"; got != want {
		t.Fatalf("first refresh: %s, want %s", got, want)
	}
	write(t, s, "db", map[string]any{"status": "failed"})
	write(t, s, "web", map[string]any{"status": "failed"})
	write(t, s, "new", map[string]any{"status": "failed"})
	write(t, s, "metrics", map[string]any{"status": "success"})

	for _, tc := range []struct {
		name  string
		src   Source
		hosts []string
		want  string
		err   bool
	}{
		{"one host, only it", s, []string{"db"}, "db=failed,metrics=unknown,web=success", false},
		{"a new host is added in order", s, []string{"new", "web"}, "db=success,metrics=unknown,new=failed,web=failed", false},
		{"an expected host's first record", s, []string{"metrics"}, "db=success,metrics=success,web=success", false},
		{"a host neither recorded nor expected is not added", s, []string{"ghost"}, "db=success,metrics=unknown,web=success", false},
		{"the store failing changes nothing", failingSource{s}, []string{"db"}, "db=success,metrics=unknown,web=success", true},
	} {
		snap, err := Reread(ctx, tc.src, opts, prev, ids(tc.hosts...))
		if got := hosts(snap); got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s: got %s (err %v), want %s (err %v)", tc.name, got, err, tc.want, tc.err)
		}
		if snap.LastSuccess != prev.LastSuccess || snap.Err != prev.Err {
			t.Errorf("%s: a reread changed the refresh state", tc.name)
		}
	}
	if got := hosts(prev); got != "db=success,metrics=unknown,web=success" {
		t.Errorf("Reread changed its prev: %s", got)
	}
	if _, err := Reread(ctx, s, opts, nil, ids("db")); err == nil {
		t.Errorf("Reread before any refresh: no error")
	}
}

// TestRereadNewRecords: a nudge naming a job's record or a restore test's
// shows it at once, new or not (issue 16 item 5): a known host's first
// result of a new job, a host that reports only through jobs (expected or
// not), a first restore test; names with no record change nothing and
// give prev back, so that nothing is published for them.
func TestRereadNewRecords(t *testing.T) {
	s, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	write(t, s, "db", map[string]any{"status": "success"})
	write(t, s, status.Key("db", "files"), map[string]any{"status": "success"})
	write(t, s, status.Key(status.RestoreTestKey, "weekly"), map[string]any{"result": "passed"})
	opts := Options{Expected: []string{"expected"}}
	prev := Load(ctx, s, opts, nil)
	const before = "db=success,expected=unknown | db@files=success | rt@weekly=passed"
	if got := everything(prev); got != before {
		t.Fatalf("first refresh: %s, want %s", got, before)
	}
	write(t, s, status.Key("db", "image"), map[string]any{"status": "failed"})
	write(t, s, status.Key("jobsonly", "dump"), map[string]any{"status": "failed"})
	write(t, s, status.Key("expected", "dump"), map[string]any{"status": "failed"})
	write(t, s, status.RestoreTestKey, map[string]any{"result": "failed"})
	write(t, s, status.Key(status.RestoreTestKey, "daily"), map[string]any{"result": "failed"})

	rt := status.RestoreTestKey
	for _, tc := range []struct {
		name string
		ids  []status.JobID
		want string
	}{
		{"a known host's new job", []status.JobID{{Host: "db", Job: "image"}},
			"db=success,expected=unknown | db@files=success,db@image=failed | rt@weekly=passed"},
		{"a host that reports only through a job", []status.JobID{{Host: "jobsonly", Job: "dump"}},
			"db=success,expected=unknown | db@files=success,jobsonly@dump=failed | rt@weekly=passed"},
		{"an expected host's first job stands for it", []status.JobID{{Host: "expected", Job: "dump"}},
			"db=success | db@files=success,expected@dump=failed | rt@weekly=passed"},
		{"the first restore test", []status.JobID{{Host: rt}},
			"db=success,expected=unknown | db@files=success | rt=failed | rt@weekly=passed"},
		{"a restore test's new job, in order", []status.JobID{{Host: rt, Job: "daily"}},
			"db=success,expected=unknown | db@files=success | rt@daily=failed | rt@weekly=passed"},
		{"a host's nudge without a job rereads its known jobs only", ids("db"), before},
	} {
		snap, err := Reread(ctx, s, opts, prev, tc.ids)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := everything(snap); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	if got := everything(prev); got != before {
		t.Errorf("Reread changed its prev: %s", got)
	}
	for _, id := range []status.JobID{{Host: "ghost"}, {Host: "ghost", Job: "x"}, {Host: "db", Job: "ghost"}, {Host: rt, Job: "ghost"}} {
		if snap, err := Reread(ctx, s, opts, prev, []status.JobID{id}); err != nil || snap != prev {
			t.Errorf("%v, which has no record: a new snapshot (err %v), want prev itself", id, err)
		}
	}
}
