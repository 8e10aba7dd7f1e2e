package repocheck

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// TestFutureSnapshotBlindsNothing: a snapshot dated a year ahead (restic
// backup --time) is not the host's newest: the newest stays the real one,
// so BackupRepositoryDisagrees can still fire, and the snapshot from the
// future is counted, for its own alert.
func TestFutureSnapshotBlindsNothing(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			f.backup("db")
			real := snapshotIDs(t, f, "db")[0]
			future := time.Now().AddDate(1, 0, 0).UTC().Format("2006-01-02 15:04:05")
			f.restic("backup", "--host", "db", "--time", future, f.src)
			doc, res := f.check(nil, Options{})
			if res.ListErr != nil {
				t.Fatal(res.ListErr)
			}
			r := Parse("r", doc)
			db := r.Hosts["db"]
			if db.NewestID != real || db.NewestTime.After(time.Now().Add(MaxClockSkew)) {
				t.Errorf("db's newest: %s at %v, want the real one %s", db.NewestID, db.NewestTime, real)
			}
			if db.Snapshots != 2 || db.Future != 1 || r.Future != 1 {
				t.Errorf("db: %d snapshots, %d from the future (repository %d); want 2, 1, 1", db.Snapshots, db.Future, r.Future)
			}
		})
	}
}

// TestForgottenHostsAgeOut: a host whose snapshots were all forgotten stays
// in the record with 0 snapshots for HostsKeptFor, then leaves it; a host
// expected with --host stays.
func TestForgottenHostsAgeOut(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			f.backup("db")
			f.junk("spam1")
			doc, _ := f.check(nil, Options{})
			for _, id := range snapshotIDs(t, f, "spam1") {
				f.restic("forget", id)
			}
			now := time.Now()
			at := func(d time.Duration) Options {
				return Options{Expect: []string{"mail"}, Now: func() time.Time { return now.Add(d) }}
			}
			doc, _ = f.check(doc, at(0))
			if v, ok := Parse("r", doc).Hosts["spam1"]; !ok || v.Snapshots != 0 {
				t.Fatalf("spam1 just forgotten: %+v (listed %v), want 0 snapshots", v, ok)
			}
			doc, _ = f.check(doc, at(HostsKeptFor-time.Hour))
			if _, ok := Parse("r", doc).Hosts["spam1"]; !ok {
				t.Errorf("spam1 left the record before %v", HostsKeptFor)
			}
			doc, _ = f.check(doc, at(HostsKeptFor+time.Hour))
			r := Parse("r", doc)
			if _, ok := r.Hosts["spam1"]; ok {
				t.Errorf("spam1 still in the record %v after its snapshots were forgotten", HostsKeptFor+time.Hour)
			}
			if _, ok := r.Hosts["mail"]; !ok {
				t.Errorf("mail, expected, left the record")
			}
			if v := r.Hosts["db"]; v.Snapshots != 1 {
				t.Errorf("db: %+v, want 1 snapshot", v)
			}
		})
	}
}

// TestPickCandidates: junk hostnames written into the repository with
// restic backup --stdin --host spamN are not restore-test candidates when
// the fleet is declared; they are reported as unknown. With no fleet
// declared every host of the repository is a candidate, as before.
func TestPickCandidates(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			f.backup("db")
			f.backup("web")
			for _, h := range []string{"spam1", "spam2", "spam3", "spam4"} {
				f.junk(h)
			}
			snaps, err := f.repo.Snapshots(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			var hosts []string
			for _, s := range snaps {
				hosts = append(hosts, s.Hostname)
			}
			got, unknown := PickCandidates(hosts, []string{"db", "web", "mail"})
			if want := []string{"db", "web"}; !equal(got, want) {
				t.Errorf("candidates %v, want %v", got, want)
			}
			if want := []string{"spam1", "spam2", "spam3", "spam4"}; !equal(unknown, want) {
				t.Errorf("unknown %v, want %v", unknown, want)
			}
			// repo-check reports them: counted in the record.
			doc, res := f.check(nil, Options{Declared: []string{"db", "web", "mail"}})
			if n := Parse("r", doc).Undeclared; n == nil || *n != 4 || !equal(res.Undeclared, []string{"spam1", "spam2", "spam3", "spam4"}) {
				t.Errorf("undeclared: %v in the record, %v in the result; want the 4 spam hosts", ptr(n), res.Undeclared)
			}
			if doc, _ := f.check(nil, Options{}); Parse("r", doc).Undeclared != nil {
				t.Errorf("no fleet declared: undeclared hosts judged")
			}
			got, unknown = PickCandidates(hosts, nil)
			if want := []string{"db", "spam1", "spam2", "spam3", "spam4", "web"}; !equal(got, want) || len(unknown) != 0 {
				t.Errorf("no fleet declared: candidates %v, unknown %v; want %v, none", got, unknown, want)
			}
		})
	}
}

// junk is what anyone holding the repository password can write: a
// snapshot of a made-up host, from stdin.
func (f *fixture) junk(host string) {
	f.t.Helper()
	cmd := exec.Command(f.bin, "--no-cache", "--password-file", f.repo.PasswordFile, "--repo", f.repo.Repository,
		"backup", "--stdin", "--stdin-filename", "junk", "--host", host)
	cmd.Env, cmd.Stdin = f.repo.Env, strings.NewReader("junk "+host)
	if out, err := cmd.CombinedOutput(); err != nil {
		f.t.Fatalf("restic backup --stdin --host %s: %v\n%s", host, err, out)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
