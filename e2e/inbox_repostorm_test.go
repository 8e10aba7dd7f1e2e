package e2e

import (
	"regexp"
	"slices"
	"testing"
)

// nasDown is what a host backing up over SFTP says when its repository's
// server is gone.
const nasDown = "Fatal: unable to open repository at sftp:nas:/srv/restic: ssh: connect to host nas port 22: Connection refused"

// TestInboxRepositoryStorm: a storm per repository (issue 20, item 0) on
// the real stack with real restic repositories and repo-check telling
// which hosts back up where. Repository nas has 4 hosts, cloud has 4 (db
// among them). 3 of nas's hosts fail for one cause (at least half of its
// hosts, and at least 3; too few for a storm of one cause across the
// fleet, which takes 10): one BackupFailuresWidespread naming the
// repository, their BackupFailed held back. Then db fails for another
// reason: its own BackupFailed comes through. nas's hosts recover: one
// resolved message; db recovers: its own. On Debian's Prometheus and
// Alertmanager and on the current ones, in parallel.
func TestInboxRepositoryStorm(t *testing.T) {
	onEachGeneration(t, false, func(t *testing.T, g generation, _ *reservation) { inboxRepositoryStorm(t, g) })
}

func inboxRepositoryStorm(t *testing.T, g generation) {
	nas, cloud := hostNames("nas", 4), append(hostNames("cloud", 3), "db")
	s := startStack(t, stackOptions{hosts: append(slices.Clone(nas), cloud...), prometheus: g.prometheus, alertmanager: g.alertmanager})
	r := &runner{t: t, s: s, scenario: "repository storm: 3 of nas's 4 hosts fail (" + g.name + ")", hostRE: regexp.MustCompile(`\b(nas-\d{3}|cloud-\d{3}|db)\b`)}
	r.phase(phase{name: "each host backs up to its repository; repo-check lists them", do: func() {
		for repo, hosts := range map[string][]string{"nas": nas, "cloud": cloud} {
			rr := newResticRepo(t, s, repo)
			for _, h := range hosts {
				rr.run("backup", "--host", h, rr.src)
			}
			if out, err := rr.check(s); err != nil {
				t.Fatalf("repo-check of %s: %v\n%s", repo, err, out)
			}
		}
		scraped(t, s, `count(backup_storm:repository_host)`, "8")
	}})

	failing := nas[:3]
	storm := firing("BackupFailuresWidespread", 1).saying("repository nas", "3 of the 4 hosts", "connection refused", failing[0])
	r.phase(phase{name: "3 of nas's 4 hosts fail (one cause): one storm message", slack: []want{storm}, email: []want{storm},
		do: func() {
			s.atOnce("failures", func() {
				s.bwAll(recordAll(failing, "--status=failed", "--exit-code=1", "--message="+nasDown))
			}, len(failing))
		}})
	other := firing("BackupFailed", 1).titled("db").saying("db", "wrong password").matching(exitCodeRE(12))
	r.phase(phase{name: "db (repository cloud) fails for another reason: its own BackupFailed", slack: []want{other}, email: []want{other},
		do: func() {
			s.bw("record", "--status=failed", "--host=db", "--exit-code=12", "--message=Fatal: wrong password or no key found")
		}})
	over := resolved("BackupFailuresWidespread")
	r.phase(phase{name: "nas's hosts recover: one resolved message", slack: []want{over}, email: []want{over},
		do: func() {
			s.atOnce("recoveries", func() { s.bwAll(recordAll(failing, "--status=success")) }, 1)
		}})
	fixed := resolved("BackupFailed").titled("db")
	r.phase(phase{name: "db recovers", slack: []want{fixed}, email: []want{fixed},
		do: func() { s.bw("record", "--status=success", "--host=db") }})
	printSummary(t)
}
