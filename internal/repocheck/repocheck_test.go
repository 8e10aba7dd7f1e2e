package repocheck

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/restic"
)

// fixture is a local repository written by one restic generation.
type fixture struct {
	t    *testing.T
	bin  string
	repo restic.Repo
	src  string
}

func newFixture(t *testing.T, bin string) *fixture {
	t.Helper()
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("correct horse\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, bin: bin, src: filepath.Join(dir, "src"),
		repo: restic.Repo{Binary: bin, Repository: filepath.Join(dir, "repo"), PasswordFile: pw, Env: []string{"HOME=" + dir, "PATH=/usr/bin:/bin"}}}
	if err := os.MkdirAll(f.src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.src, "a"), []byte(strings.Repeat("data ", 4000)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.restic("init")
	return f
}

func (f *fixture) restic(args ...string) string {
	f.t.Helper()
	cmd := exec.Command(f.bin, append([]string{"--no-cache", "--password-file", f.repo.PasswordFile, "--repo", f.repo.Repository}, args...)...)
	cmd.Env = f.repo.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (f *fixture) backup(host string) {
	f.t.Helper()
	f.restic("backup", "--host", host, f.src)
}

// check runs Check and Apply as repo-check does, returning the new record
// (through JSON, as a store keeps it).
func (f *fixture) check(old map[string]any, opts Options) (map[string]any, Result) {
	f.t.Helper()
	res := Check(context.Background(), f.repo, old, opts)
	doc := Apply(old, res, "test")
	b, err := json.Marshal(doc)
	if err != nil {
		f.t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		f.t.Fatal(err)
	}
	return back, res
}

// TestWitness, on Debian's restic and the current one: the listing per
// host, snapshots deleted with restic forget (the host stays, with 0),
// an expected host with none, and a failed listing that leaves the hosts
// as the last listing saw them.
func TestWitness(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			f.backup("db")
			f.backup("db")
			f.backup("web")
			doc, res := f.check(nil, Options{Expect: []string{"mail"}})
			if res.ListErr != nil {
				t.Fatalf("listing: %v", res.ListErr)
			}
			r := Parse("r", doc)
			if len(r.Problems) > 0 {
				t.Errorf("problems: %v", r.Problems)
			}
			if r.Status != "success" || r.Snapshots == nil || *r.Snapshots != 3 {
				t.Errorf("status %s, snapshots %v; want success, 3", r.Status, r.Snapshots)
			}
			want := map[string]int64{"db": 2, "web": 1, "mail": 0}
			for h, n := range want {
				if got := r.Hosts[h].Snapshots; got != n {
					t.Errorf("%s: %d snapshots, want %d", h, got, n)
				}
			}
			if r.Hosts["db"].NewestTime.IsZero() || len(r.Hosts["db"].NewestID) != 64 || !r.Hosts["mail"].NewestTime.IsZero() {
				t.Errorf("newest: db %v %q, mail %v", r.Hosts["db"].NewestTime, r.Hosts["db"].NewestID, r.Hosts["mail"].NewestTime)
			}
			newestDB := r.Hosts["db"].NewestID

			// Deleted: db keeps its newest only, web loses all.
			f.restic("forget", "--host", "db", "--keep-last", "1")
			f.restic("forget", "--host", "web", "--keep-last", "1") // keeps one...
			for _, id := range snapshotIDs(t, f, "web") {
				f.restic("forget", id) // ...then none
			}
			doc, _ = f.check(doc, Options{})
			r = Parse("r", doc)
			if got := r.Hosts["db"]; got.Snapshots != 1 || got.NewestID != newestDB {
				t.Errorf("db after forget: %+v, want 1 snapshot, newest %s", got, newestDB)
			}
			if got, ok := r.Hosts["web"]; !ok || got.Snapshots != 0 || !got.NewestTime.IsZero() {
				t.Errorf("web after forget: %+v (listed %v), want 0 snapshots, no newest", got, ok)
			}
			if *r.Snapshots != 1 {
				t.Errorf("total %d, want 1", *r.Snapshots)
			}

			// Wrong password: a failure of the check, the hosts unchanged.
			bad := f.repo
			bad.PasswordFile = filepath.Join(t.TempDir(), "wrong")
			os.WriteFile(bad.PasswordFile, []byte("wrong\n"), 0o600)
			for name, repo := range map[string]restic.Repo{
				"wrong password": bad,
				"no repository":  {Binary: f.bin, Repository: filepath.Join(t.TempDir(), "nothing"), PasswordFile: f.repo.PasswordFile, Env: f.repo.Env},
			} {
				res := Check(context.Background(), repo, doc, Options{Subsets: 3})
				if res.ListErr == nil || res.DataChecked {
					t.Fatalf("%s: listing error %v, data checked %v; want an error and no data check", name, res.ListErr, res.DataChecked)
				}
				after := Parse("r", Apply(doc, res, "test"))
				if after.Status != "failed" || after.Message == "" || strings.Contains(after.Message, "correct horse") {
					t.Errorf("%s: status %s, message %q", name, after.Status, after.Message)
				}
				if after.Hosts["db"] != r.Hosts["db"] || !after.LastSuccess.Equal(r.LastSuccess) || *after.Snapshots != 1 {
					t.Errorf("%s: hosts or last success changed: %+v, %v", name, after.Hosts["db"], after.LastSuccess)
				}
				t.Logf("%s: %s", name, after.Message)
			}
		})
	}
}

func snapshotIDs(t *testing.T, f *fixture, host string) []string {
	t.Helper()
	snaps, err := f.repo.Snapshots(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	return ids
}

// TestDataCheckRotation: the subset read advances 1, 2, 3, 1 over passing
// runs; a corrupted pack fails the check of its subset, which is read
// again at the next run (the failure stays until repaired).
func TestDataCheckRotation(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			f.backup("db")
			var doc map[string]any
			for i, want := range []string{"1/3", "2/3", "3/3", "1/3"} {
				var res Result
				doc, res = f.check(doc, Options{Subsets: 3})
				r := Parse("r", doc)
				if res.DataErr != nil || r.DataCheck != "passed" || r.DataSubset != want {
					t.Fatalf("run %d: read %s (%s, %v), want %s passed", i+1, r.DataSubset, r.DataCheck, res.DataErr, want)
				}
			}
			// A new N starts the rotation again.
			doc, _ = f.check(doc, Options{Subsets: 2})
			if got := Parse("r", doc).DataSubset; got != "1/2" {
				t.Errorf("after N changed: read %s, want 1/2", got)
			}

			corruptPack(t, f.repo.Repository)
			doc, res := f.check(doc, Options{Subsets: 1})
			r := Parse("r", doc)
			if res.DataErr == nil || r.DataCheck != "failed" || r.DataMessage == "" || r.Status != "success" {
				t.Fatalf("corrupted pack: data check %s (%q), listing %s; want failed with a message, listing success", r.DataCheck, r.DataMessage, r.Status)
			}
			if r.DataCheckNext != 1 {
				t.Errorf("next subset after a failure: %d, want the same (1)", r.DataCheckNext)
			}
			t.Logf("corrupted pack: %s", r.DataMessage)
		})
	}
}

// corruptPack overwrites bytes in the middle of the repository's largest
// data pack.
func corruptPack(t *testing.T, repo string) {
	t.Helper()
	var biggest string
	var size int64
	filepath.Walk(filepath.Join(repo, "data"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > size {
			biggest, size = p, fi.Size()
		}
		return nil
	})
	if biggest == "" {
		t.Fatal("no pack in the repository")
	}
	os.Chmod(biggest, 0o600)
	fh, err := os.OpenFile(biggest, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteAt([]byte(strings.Repeat("\xff", 64)), size/2); err != nil {
		t.Fatal(err)
	}
}

// TestParseHostile: a record as anyone may have written it is read as far
// as it goes, never failing, problems noted.
func TestParseHostile(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		hosts    int
		problems bool
	}{
		{"empty", `{}`, 0, true},
		{"hosts not an object", `{"status":"success","hosts":"x"}`, 0, true},
		{"bad host entries", `{"status":"success","hosts":{"db":{"snapshots":"-1"},"web":"x","bad name!":{"snapshots":"1"},"ok":{"snapshots":2,"newest_time":"garbage"}}}`, 1, true},
		{"numbers as JSON numbers", `{"status":"success","snapshots":3,"hosts":{"db":{"snapshots":3,"newest_time":"2026-11-30T02:00:00Z","newest_id":"ab"}}}`, 1, false},
		{"huge rotation", `{"status":"success","data_check_next":"99999999999","data_check_of":"1e9"}`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data map[string]any
			if err := json.Unmarshal([]byte(tt.doc), &data); err != nil {
				t.Fatal(err)
			}
			r := Parse("r", data)
			if len(r.Hosts) != tt.hosts || (len(r.Problems) > 0) != tt.problems {
				t.Errorf("hosts %d, problems %v; want %d hosts, problems %v", len(r.Hosts), r.Problems, tt.hosts, tt.problems)
			}
			if r.DataCheckNext > MaxSubsets || r.DataCheckOf > MaxSubsets {
				t.Errorf("rotation %d/%d beyond the bound", r.DataCheckNext, r.DataCheckOf)
			}
		})
	}
}

func TestDefaultName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/srv/restic-repo", "restic-repo"},
		{"/srv/restic-repo/", "restic-repo"},
		{"sftp:backup@host:/srv/repos/db", "db"},
		{"rest:https://user:secret@rest.example:8000/fleet/", "fleet"},
		{"s3:s3.amazonaws.com/bucket", "bucket"},
		{"/", ""},
		{"/srv/with space", "with-space"},
	}
	for _, tt := range tests {
		if got := DefaultName(tt.in); got != tt.want {
			t.Errorf("DefaultName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
