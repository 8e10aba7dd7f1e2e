package backuprun

import (
	"slices"
	"sync"

	"github.com/golemtrust/backupwatch/internal/restic"
)

// maxVSSReasons bounds the VSS failures a record names: one per volume
// snapshotted, a few at most.
const maxVSSReasons = 3

// VSSFailures collects the Volume Shadow Copy failures restic reports on
// Windows (restic.VSSFailure) from its error output, all of it: the
// failure comes first and the errors it causes (files in use) can push it
// out of the last lines kept. The zero value is ready; safe for
// concurrent use.
type VSSFailures struct {
	mu      sync.Mutex
	reasons []string
}

// Add reads one line of restic's error output.
func (v *VSSFailures) Add(line string) {
	reason, ok := restic.VSSFailure(line)
	if !ok {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.reasons) < maxVSSReasons && !slices.Contains(v.reasons, reason) {
		v.reasons = append(v.reasons, reason)
	}
}

// Reasons are the failures, the first first.
func (v *VSSFailures) Reasons() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.reasons)
}
