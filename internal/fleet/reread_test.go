package fleet

import (
	"context"
	"errors"
	"testing"

	"github.com/golemtrust/backupwatch/internal/localstore"
)

// failingSource answers every read with a store error.
type failingSource struct{ Source }

func (failingSource) Get(context.Context, string) (map[string]any, error) {
	return nil, errors.New("vault unreachable")
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
		snap, err := Reread(ctx, tc.src, opts, prev, tc.hosts)
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
	if _, err := Reread(ctx, s, opts, nil, []string{"db"}); err == nil {
		t.Errorf("Reread before any refresh: no error")
	}
}
