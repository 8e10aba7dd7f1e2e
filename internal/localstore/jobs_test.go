package localstore

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/golemtrust/backupwatch/internal/status"
)

func TestJobRecords(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		t.Helper()
		if err := s.Update(ctx, key, func(map[string]any) (map[string]any, bool, error) {
			return map[string]any{"status": "success"}, true, nil
		}); err != nil {
			t.Fatalf("write %s: %v", key, err)
		}
	}
	if got, err := s.ListFolder(ctx, status.JobsFolder); err != nil || len(got) != 0 {
		t.Errorf("jobs before any: %q, %v; want none", got, err)
	}
	put("db")
	put("jobs") // a host named jobs is its own record, beside the folder
	put(status.Key("db", "files"))
	put(status.Key("db", "pg_dump"))
	put(status.Key(status.RestoreTestKey, "weekly"))

	keys, err := s.List(ctx)
	if want := []string{"db", "jobs", "jobs/"}; err != nil || !slices.Equal(keys, want) {
		t.Errorf("List = %q, %v; want %q", keys, err, want)
	}
	jobs, err := s.ListFolder(ctx, status.JobsFolder)
	if want := []string{"db@files", "db@pg_dump", "restore-test@weekly"}; err != nil || !slices.Equal(jobs, want) {
		t.Errorf("ListFolder(jobs) = %q, %v; want %q", jobs, err, want)
	}
	if _, err := s.Get(ctx, status.Key("db", "files")); err != nil {
		t.Errorf("read a job: %v", err)
	}
	if err := s.Delete(ctx, status.Key("db", "files")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, status.Key("db", "files")); !errors.Is(err, status.ErrNotFound) {
		t.Errorf("a forgotten job: %v, want not found", err)
	}
	for _, bad := range []string{"jobs/", "jobs/a/b", "jobs/.x", "jobs/..", "other/db@x"} {
		if _, err := s.Get(ctx, bad); !errors.Is(err, status.ErrMalformed) {
			t.Errorf("Get(%q) = %v, want an invalid key", bad, err)
		}
	}
}
