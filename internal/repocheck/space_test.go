//go:build unix

package repocheck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// TestSpace, on both restic generations: on a local path the size is the
// sum of the repository's files' sizes (a directory walk: no restic stats,
// whose reading of every snapshot cost as much CPU as the listing), at
// every check whatever --size.interval says, and the free space is that of
// its file system; elsewhere (here a location given relative, which is no
// local path to repo-check) the size is restic's own (stats --mode
// raw-data) and there is no free space, without a problem said.
func TestSpace(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			f.backup("db")
			calls := f.logCalls()
			doc, res := f.check(nil, Options{SizeEvery: DefaultSizeEvery})
			r := Parse("r", doc)
			if res.ListErr != nil || len(r.Problems) > 0 {
				t.Fatalf("listing %v, problems %v", res.ListErr, r.Problems)
			}
			if want := duSize(t, f.repo.Repository); r.Space.Size == nil || *r.Space.Size != want || want <= 0 || r.Space.Source != SizeFiles {
				t.Errorf("size %v (%s), want the files' %d (%s)", r.Space.Size, r.Space.Source, want, SizeFiles)
			}
			if c := calls(); strings.Contains(c, "stats") {
				t.Errorf("restic stats ran for a local repository:\n%s", c)
			}
			// Within --size.interval, measured again all the same: it grew.
			f.backup("web")
			doc, _ = f.check(doc, Options{SizeEvery: DefaultSizeEvery})
			again := Parse("r", doc).Space
			if want := duSize(t, f.repo.Repository); again.Size == nil || *again.Size != want || want <= *r.Space.Size || again.PrevSize == nil || *again.PrevSize != *r.Space.Size {
				t.Errorf("second check: size %v (previous %v), want the files' %d (previous %d)", again.Size, again.PrevSize, want, *r.Space.Size)
			}
			doc, _ = f.check(doc, Options{NoSize: true})
			if r := Parse("r", doc); r.Space.Size != nil || r.Space.Free == nil || len(r.Problems) > 0 {
				t.Errorf("--no-size: size %v, free %v, problems %v; want no size, the free space, no problem", r.Space.Size, r.Space.Free, r.Problems)
			}
			var fs unix.Statfs_t
			if err := unix.Statfs(f.repo.Repository, &fs); err != nil {
				t.Fatal(err)
			}
			size := int64(uint64(fs.Blocks) * uint64(fs.Bsize))
			if r.Space.Free == nil || *r.Space.Free <= 0 || *r.Space.Free > size {
				t.Errorf("free %v, want some of the file system's %d bytes", r.Space.Free, size)
			}

			remote := f.repo
			remote.Repository = relative(t, f.repo.Repository)
			res = Check(context.Background(), remote, nil, Options{})
			r = Parse("r", Apply(nil, res, "test"))
			st, err := f.repo.RawDataStats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.ListErr != nil || r.Space.Size == nil || *r.Space.Size != st.TotalSize || r.Space.Source != SizeStats || r.Space.Free != nil || len(r.Problems) > 0 {
				t.Errorf("not a local path: size %v (%s), free %v, problems %v (%v); want restic stats' %d (%s), no free space, no problem",
					r.Space.Size, r.Space.Source, r.Space.Free, r.Problems, res.ListErr, st.TotalSize, SizeStats)
			}
		})
	}
	for loc, want := range map[string]string{"/srv/repo/": "/srv/repo", "local:/srv/repo": "/srv/repo", "sftp:host:/srv/repo": "", "s3:host/bucket": "", "repo": ""} {
		if got := LocalPath(loc); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", loc, got, want)
		}
	}
}

// duSize is what du --apparent-size --bytes says of dir.
func duSize(t *testing.T, dir string) int64 {
	t.Helper()
	out, err := exec.Command("du", "-s", "--apparent-size", "--bytes", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	// du counts the directories' own sizes too: take them off.
	dirs, err := exec.Command("find", dir, "-type", "d", "-printf", "%s\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Fields(string(dirs)) {
		d, _ := strconv.ParseInt(l, 10, 64)
		n -= d
	}
	return n
}

// relative is dir as a path relative to the working directory: restic
// opens it, repo-check does not take it for a local path.
func relative(t *testing.T, dir string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// logCalls puts a restic in front of the fixture's that logs each call's
// arguments, then runs the real one; calls returns what was logged.
func (f *fixture) logCalls() (calls func() string) {
	f.t.Helper()
	dir := f.t.TempDir()
	log := filepath.Join(dir, "calls")
	wrapper := filepath.Join(dir, "restic")
	script := "#!/bin/sh\necho \"$*\" >> " + log + "\nexec " + f.bin + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		f.t.Fatal(err)
	}
	f.repo.Binary = wrapper
	return func() string { b, _ := os.ReadFile(log); return string(b) }
}

// TestResticTimeout: a restic that hangs (its password file a FIFO nobody
// writes) is a failed listing, saying --restic.timeout, within a deadline
// of the timeout: never a check that never ends.
func TestResticTimeout(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			repo := f.repo
			repo.PasswordFile = filepath.Join(t.TempDir(), "fifo")
			if err := unix.Mkfifo(repo.PasswordFile, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res := Check(ctx, repo, nil, Options{Timeout: time.Second})
			if ctx.Err() != nil {
				t.Fatalf("the check outlived a minute with --restic.timeout 1s")
			}
			if res.ListErr == nil || !strings.Contains(res.ListErr.Error(), "--restic.timeout") {
				t.Fatalf("listing error %v, want one naming --restic.timeout", res.ListErr)
			}
			if r := Parse("r", Apply(nil, res, "test")); r.Status != "failed" || !strings.Contains(r.Message, "--restic.timeout") {
				t.Errorf("recorded %s %q, want failed with the timeout", r.Status, r.Message)
			}
		})
	}
}

// TestGrowth: each record keeps the size measured before its own, with
// both times, for the status page's growth; a check without a size drops
// both, and a first size has no growth.
func TestGrowth(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)
	sized := func(n int64) *Space { return &Space{Size: &n} }
	doc := Apply(nil, Result{At: t0, Hosts: map[string]HostView{}, Space: sized(100 << 20)}, "test")
	if _, _, ok := Parse("r", doc).Space.Growth(); ok {
		t.Errorf("a first size has a growth")
	}
	doc = Apply(doc, Result{At: t0.Add(24 * time.Hour), Hosts: map[string]HostView{}, Space: sized(150 << 20)}, "test")
	r := Parse("r", doc)
	if b, over, ok := r.Space.Growth(); !ok || b != 50<<20 || over != 24*time.Hour || len(r.Problems) > 0 {
		t.Errorf("growth %d over %v (%v), problems %v; want %d over 24h", b, over, ok, r.Problems, 50<<20)
	}
	doc = Apply(doc, Result{At: t0.Add(48 * time.Hour), Hosts: map[string]HostView{}, Space: &Space{}}, "test")
	if _, _, ok := Parse("r", doc).Space.Growth(); ok {
		t.Errorf("a check without a size has a growth")
	}
	// Sizes measured two ways are not compared: restic stats' (a record
	// written before the files were summed says no source) then the
	// files', larger by the index and what forget left for prune.
	n := int64(100 << 20)
	doc = Apply(nil, Result{At: t0, Hosts: map[string]HostView{}, Space: sized(100 << 20)}, "test")
	delete(doc, FieldSizeSource)
	doc = Apply(doc, Result{At: t0.Add(24 * time.Hour), Hosts: map[string]HostView{}, Space: &Space{Size: &n, Source: SizeFiles}}, "test")
	if r := Parse("r", doc); r.Space.Source != SizeFiles || len(r.Problems) > 0 {
		t.Errorf("source %q, problems %v; want %s", r.Space.Source, r.Problems, SizeFiles)
	} else if b, _, ok := r.Space.Growth(); ok {
		t.Errorf("growth %d from restic stats' size to the files', want none", b)
	}
}

// TestSizeInterval: for a repository not on a local path, restic stats
// (most of what repo-check costs beyond restic's own listing, issue 19's
// bench) runs at most once per
// Options.SizeEvery: a check within it keeps the size last measured, with
// its own time and growth, however the snapshots changed; the first check
// after it measures again. A size never measured, or not measured the last
// time, is measured at once.
func TestSizeInterval(t *testing.T) {
	f := newFixture(t, parts.CurrentPath(t, "restic"))
	f.backup("db")
	// Only where the size is restic's (not a local path: see TestSpace).
	f.repo.Repository = relative(t, f.repo.Repository)
	t0 := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }
	every := 6 * time.Hour
	doc, _ := f.check(nil, Options{SizeEvery: every, Now: at(0)})
	first := Parse("r", doc).Space
	if first.Size == nil || !first.SizeAt.Equal(t0) {
		t.Fatalf("first check: size %v at %v, want one measured at %v", first.Size, first.SizeAt, t0)
	}
	// The repository grows: a new file, another host.
	if err := os.WriteFile(filepath.Join(f.src, "b"), []byte(strings.Repeat("more data ", 40000)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.backup("web")
	doc, res := f.check(doc, Options{SizeEvery: every, Now: at(every - time.Minute)})
	kept := Parse("r", doc)
	if res.Hosts["web"].Snapshots != 1 {
		t.Fatalf("the listing missed web: %+v", res.Hosts)
	}
	if kept.Space.Size == nil || *kept.Space.Size != *first.Size || !kept.Space.SizeAt.Equal(t0) || kept.Space.PrevSize != nil || len(kept.Problems) > 0 {
		t.Errorf("within %v: size %v at %v, previous %v, problems %v; want the first size %d at %v kept, no growth", every, kept.Space.Size, kept.Space.SizeAt, kept.Space.PrevSize, kept.Problems, *first.Size, t0)
	}
	doc, _ = f.check(doc, Options{SizeEvery: every, Now: at(every)})
	again := Parse("r", doc).Space
	st, err := f.repo.RawDataStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if again.Size == nil || *again.Size != st.TotalSize || st.TotalSize <= *first.Size || !again.SizeAt.Equal(t0.Add(every)) {
		t.Errorf("after %v: size %v at %v, want restic stats' %d (more than %d) at %v", every, again.Size, again.SizeAt, st.TotalSize, *first.Size, t0.Add(every))
	}
	if b, over, ok := again.Growth(); !ok || b != st.TotalSize-*first.Size || over != every {
		t.Errorf("after %v: growth %d over %v (%v), want %d over %v", every, b, over, ok, st.TotalSize-*first.Size, every)
	}
	// A check without a size (--no-size) drops it: the next measures at once.
	doc, _ = f.check(doc, Options{NoSize: true, Now: at(every + time.Minute)})
	doc, _ = f.check(doc, Options{SizeEvery: every, Now: at(every + 2*time.Minute)})
	if sp := Parse("r", doc).Space; sp.Size == nil || !sp.SizeAt.Equal(t0.Add(every+2*time.Minute)) {
		t.Errorf("after a check without a size: size %v at %v, want one measured at once", sp.Size, sp.SizeAt)
	}
}
