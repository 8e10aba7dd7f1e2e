package repocheck

import (
	"slices"

	"github.com/golemtrust/backupwatch/internal/status"
)

// PickCandidates splits the host names found in a repository into those a
// restore test may pick and those it must not: where the fleet is declared
// (the config file's hosts:), only declared hosts are candidates, and the
// others are returned as unknown, to be reported, never tested: anyone
// holding the repository password can write snapshots of made-up hosts,
// and `--pick oldest` would test those first (never tested) while the real
// hosts wait. With no fleet declared, every valid host name is a
// candidate, as before. Both lists are sorted and without duplicates.
func PickCandidates(repoHosts, declared []string) (candidates, unknown []string) {
	known := make(map[string]bool, len(declared))
	for _, h := range declared {
		known[h] = true
	}
	seen := map[string]bool{}
	for _, h := range repoHosts {
		if seen[h] || status.ValidateHost(h) != nil {
			continue
		}
		seen[h] = true
		if len(declared) == 0 || known[h] {
			candidates = append(candidates, h)
		} else {
			unknown = append(unknown, h)
		}
	}
	slices.Sort(candidates)
	slices.Sort(unknown)
	return candidates, unknown
}
