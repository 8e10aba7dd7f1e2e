package localstore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/status"
)

// validName is a valid host or job name of n characters (labels of 63).
func validName(n int, letter string) string {
	var labels []string
	for n > 0 {
		l := min(n, 63)
		labels = append(labels, strings.Repeat(letter, l))
		n -= l + 1
	}
	name := strings.Join(labels, ".")
	return strings.TrimSuffix(name, ".")
}

// TestLongNames (issue 16): every name validation accepts is a name the
// store can keep, up to the longest host with the longest job; the file
// names stay within what file systems allow, and the real names come back
// from List.
func TestLongNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	long := validName(253, "h")
	other := validName(253, "i")
	job := validName(253, "j")
	for _, n := range []string{long, other, job} {
		if len(n) != 253 || status.ValidateHost(n) != nil {
			t.Fatalf("test name of %d characters: %v", len(n), status.ValidateHost(n))
		}
	}
	keys := []string{"db", long, other, status.Key(long, job), status.Key("db", job), status.Key(long, "files")}
	for i, k := range keys {
		if err := s.Update(ctx, k, func(old map[string]any) (map[string]any, bool, error) {
			return map[string]any{"status": "success", "n": i}, true, nil
		}); err != nil {
			t.Fatalf("write a key of %d characters: %v", len(k), err)
		}
	}
	for i, k := range keys {
		doc, err := s.Get(ctx, k)
		if err != nil || doc["status"] != "success" || len(doc) != 2 || fmt.Sprint(doc["n"]) != fmt.Sprint(i) {
			t.Errorf("read back the key of %d characters: %v, %v", len(k), doc, err)
		}
	}
	hosts, err := s.List(ctx)
	if want := []string{"db", long, other, "jobs/"}; err != nil || !slices.Equal(hosts, want) {
		t.Errorf("List: %d keys %v, want %d", len(hosts), err, len(want))
	}
	jobs, err := s.ListFolder(ctx, status.JobsFolder)
	if want := []string{"db@" + job, long + "@files", long + "@" + job}; err != nil || !slices.Equal(jobs, want) {
		t.Errorf("ListFolder: %d names %v, want %d", len(jobs), err, len(want))
	}
	for _, sub := range []string{"", status.JobsFolder} {
		entries, err := os.ReadDir(dir + "/" + sub)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if len(e.Name()) > 200 {
				t.Errorf("file name of %d bytes: temporary files beside it would pass the 255 limit", len(e.Name()))
			}
		}
	}
	if err := s.Delete(ctx, status.Key(long, job)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, status.Key(long, job)); err == nil {
		t.Errorf("a deleted long key still reads")
	}
	if jobs, _ := s.ListFolder(ctx, status.JobsFolder); len(jobs) != 2 {
		t.Errorf("after delete: %d jobs, want 2", len(jobs))
	}
}
