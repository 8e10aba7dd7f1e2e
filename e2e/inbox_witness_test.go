package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// resticRepo is a local restic repository of a scenario, run with
// Debian's restic.
type resticRepo struct {
	t         *testing.T
	restic    string
	dir, pw   string
	src, name string
}

func newResticRepo(t *testing.T, s *stack, name string) *resticRepo {
	t.Helper()
	r := &resticRepo{t: t, restic: debian(t, "restic"), name: name,
		dir: filepath.Join(s.dir, name), pw: filepath.Join(s.dir, name+"-password"), src: filepath.Join(s.dir, name+"-src")}
	if err := os.WriteFile(r.pw, []byte("e2e-witness-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.src, 0o755); err != nil {
		t.Fatal(err)
	}
	// Incompressible-looking content, so the pack holds its bytes.
	var b strings.Builder
	for i := range 20000 {
		b.WriteString(time.Duration(i * 7919).String())
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(r.src, "data"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r.run("init")
	return r
}

func (r *resticRepo) run(args ...string) {
	r.t.Helper()
	cmd := exec.Command(r.restic, append([]string{"-r", r.dir, "--password-file", r.pw}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// check runs backupwatch repo-check on the repository.
func (r *resticRepo) check(s *stack, args ...string) ([]byte, error) {
	return s.bwErr(append([]string{"repo-check", "--repo=" + r.dir, "--name=" + r.name, "--password-file=" + r.pw, "--restic.binary=" + r.restic}, args...)...)
}

// scraped waits until Prometheus has q's value want.
func scraped(t *testing.T, s *stack, q, want string) {
	t.Helper()
	waitFor(t, q+" to be "+want, s.deadline, func() (bool, string) {
		got := s.promQuery(q)
		return got == want, q + " = " + got
	})
}

// TestInboxWitness: the repository as a second witness, with real restic
// and local repositories. Snapshots deleted with restic forget, a
// corrupted pack, and a host whose record claims success while the
// repository has nothing new for it each send exactly one notification
// per channel, with the reason, and nothing else. The harness scales
// every range selector too, so BackupRepositorySnapshotsDropped's [1d]
// history is 24 minutes here: the listing of four snapshots is scraped first.
func TestInboxWitness(t *testing.T) {
	t.Parallel()
	hostRE := regexp.MustCompile(`\b(db|auth|web|wiki|mail)\b`)
	t.Run("snapshots deleted with restic forget", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, stackOptions{hosts: base})
		r := &runner{t: t, s: s, scenario: "w1 snapshots deleted", hostRE: hostRE}
		repo := newResticRepo(t, s, "fleet")
		r.phase(phase{name: "wiki backs up four times; repo-check lists them", do: func() {
			for range 4 {
				repo.run("backup", "--host", "wiki", repo.src)
			}
			if out, err := repo.check(s); err != nil {
				t.Fatalf("repo-check: %v\n%s", err, out)
			}
			scraped(t, s, `max(backup_repository_host_snapshots{repository="fleet",host="wiki"})`, "4")
		}})
		w := firing("BackupRepositorySnapshotsDropped", 1).titled("BackupRepositorySnapshotsDropped").
			saying("fleet", "1 snapshots of wiki", "down from 4")
		r.phase(phase{name: "restic forget --keep-last 1, then repo-check", slack: []want{w}, email: []want{w}, do: func() {
			repo.run("forget", "--keep-last", "1")
			if out, err := repo.check(s); err != nil {
				t.Fatalf("repo-check: %v\n%s", err, out)
			}
		}})
	})

	t.Run("a corrupted pack", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, stackOptions{hosts: base})
		r := &runner{t: t, s: s, scenario: "w2 corrupted pack", hostRE: hostRE}
		repo := newResticRepo(t, s, "archive")
		r.phase(phase{name: "wiki backs up; repo-check reads all data and passes", do: func() {
			repo.run("backup", "--host", "wiki", repo.src)
			if out, err := repo.check(s, "--read-data-subsets=1"); err != nil {
				t.Fatalf("repo-check: %v\n%s", err, out)
			}
			scraped(t, s, `max(backup_repository_data_check_passed{repository="archive"})`, "1")
		}})
		w := firing("BackupRepositoryDataCheckFailed", 1).titled("BackupRepositoryDataCheckFailed").
			saying("restic check of archive", "(data subset 1/1) failed")
		r.phase(phase{name: "bytes of a pack overwritten, then repo-check --read-data-subsets=1", slack: []want{w}, email: []want{w}, do: func() {
			corruptPack(t, repo.dir)
			if out, err := repo.check(s, "--read-data-subsets=1"); err == nil || !strings.Contains(string(out), "data check 1/1 failed") {
				t.Fatalf("repo-check of the corrupted repository: %v, want its data check 1/1 failed:\n%s", err, out)
			}
		}})
	})

	t.Run("a host's record claims success the repository does not hold", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, stackOptions{hosts: base})
		r := &runner{t: t, s: s, scenario: "w3 record and repository disagree", hostRE: hostRE}
		repo := newResticRepo(t, s, "offsite")
		now := time.Now()
		r.phase(phase{name: "mail's only snapshot is 3 hours old", do: func() {
			repo.run("backup", "--host", "mail", "--time", now.Add(-3*time.Hour).Local().Format("2006-01-02 15:04:05"), repo.src)
		}})
		w := firing("BackupRepositoryDisagrees", 1).titled("BackupRepositoryDisagrees").
			saying("mail recorded a successful backup", "older than that success", "repository listed after it")
		r.phase(phase{name: "mail records a success a minute ago; repo-check lists the repository", slack: []want{w}, email: []want{w}, do: func() {
			s.bw("record", "--status=success", "--host=mail", "--at="+now.Add(-time.Minute).UTC().Format(time.RFC3339))
			if out, err := repo.check(s); err != nil {
				t.Fatalf("repo-check: %v\n%s", err, out)
			}
		}})
	})

	// The "missing" form: the repository has never held a snapshot of a
	// host it should (repo-check --host), while the host records successes:
	// its backups go somewhere else. One notification, naming the host.
	t.Run("a host's record claims success the repository has no snapshot of", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, stackOptions{hosts: base})
		r := &runner{t: t, s: s, scenario: "w4 host missing from its repository", hostRE: hostRE}
		repo := newResticRepo(t, s, "vault-host")
		r.phase(phase{name: "the repository holds wiki's snapshot only", do: func() {
			repo.run("backup", "--host", "wiki", repo.src)
		}})
		w := firing("BackupRepositoryDisagrees", 1).titled("BackupRepositoryDisagrees").
			saying("auth recorded a successful backup", "the repository holds no snapshot of it")
		r.phase(phase{name: "auth records a success; repo-check --host=auth lists the repository", slack: []want{w}, email: []want{w}, do: func() {
			// A minute ago: a listing is only believed when it is later
			// than the success, to the second.
			s.bw("record", "--status=success", "--host=auth", "--at="+time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
			if out, err := repo.check(s, "--host=auth"); err != nil {
				t.Fatalf("repo-check: %v\n%s", err, out)
			}
			scraped(t, s, `max(backup_repository_host_snapshots{repository="vault-host",host="auth"})`, "0")
		}})
	})
}

// TestInboxEmptiedSource: a source directory emptied between two backups
// (a moved mount point) makes a "successful" backup that saved nothing:
// exactly one BackupProcessedNoFiles per channel, with the reason, and
// nothing else (the history-based anomaly alerts stay quiet in a host's
// first days).
func TestInboxEmptiedSource(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{hosts: base})
	r := &runner{t: t, s: s, scenario: "w4 emptied source", hostRE: regexp.MustCompile(`\b(db|auth|web|wiki)\b`)}
	repo := newResticRepo(t, s, "files")
	backup := func() {
		s.bw("run", "--host=wiki", "--log.file=", "--lock.file="+filepath.Join(s.dir, "wiki.lock"), "--",
			repo.restic, "-r", repo.dir, "--password-file", repo.pw, "--host", "wiki", "backup", "--json", repo.src)
	}
	r.phase(phase{name: "wiki backs up its files through run", do: func() {
		backup()
		scraped(t, s, `count(backup_last_snapshot_files_processed{host="wiki"} > 0)`, "1")
	}})
	w := firing("BackupProcessedNoFiles", 1).titled("BackupProcessedNoFiles").
		saying("wiki", "processed no files")
	r.phase(phase{name: "the source is emptied; the next backup exits 0", slack: []want{w}, email: []want{w}, do: func() {
		if err := os.Remove(filepath.Join(repo.src, "data")); err != nil {
			t.Fatal(err)
		}
		backup()
	}})
}

// corruptPack overwrites bytes in the middle of every pack of the
// repository's data/ directory.
func corruptPack(t *testing.T, repo string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(repo, "data"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Chmod(p, 0o600); err != nil {
			return err
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte(strings.Repeat("corrupted!", 8)), info.Size()/3); err != nil {
			return err
		}
		n++
		return f.Close()
	})
	if err != nil {
		t.Fatalf("corrupting the packs: %v", err)
	}
	if n == 0 {
		t.Fatalf("no pack under %s/data", repo)
	}
}
