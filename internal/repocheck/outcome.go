package repocheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/restic"
)

// Run is Check, or a failed listing when repo's restic cannot be found,
// so that a missing restic is recorded as any failed check is.
func Run(ctx context.Context, repo restic.Repo, old map[string]any, opts Options) Result {
	if _, err := repo.LookPath(); err != nil {
		return Result{At: time.Now(), ListErr: err}
	}
	return Check(ctx, repo, old, opts)
}

// Scrub takes the secrets out of what restic said (a password in the
// repository URL, say) before it is recorded or logged.
func (r *Result) Scrub(scrub func(string) string) {
	if r.ListErr != nil {
		r.ListErr = errors.New(scrub(r.ListErr.Error()))
	}
	if r.DataErr != nil {
		r.DataErr = errors.New(scrub(r.DataErr.Error()))
	}
	if r.LocksErr != nil {
		r.LocksErr = errors.New(scrub(r.LocksErr.Error()))
	}
	if r.Space != nil {
		r.Space.Message = scrub(r.Space.Message)
	}
}

// LogArgs say what the check of the repository name found, for a log
// line; scrub takes the secrets out of restic's words.
func (r Result) LogArgs(name string, scrub func(string) string) []any {
	args := []any{"repository", name, "snapshots", r.Total, "hosts", len(r.Hosts)}
	if r.Future > 0 {
		args = append(args, "snapshots_from_future", r.Future)
	}
	if len(r.Undeclared) > 0 {
		// Reported, never tested: restore-test's --pick keeps to the declared fleet.
		shown := r.Undeclared[:min(len(r.Undeclared), 10)]
		args = append(args, "undeclared_hosts", len(r.Undeclared), "undeclared_first", strings.Join(shown, ","))
	}
	if l := r.Locks; l != nil {
		args = append(args, "locks_exclusive", l.Exclusive, "locks_shared", l.Shared)
	} else if r.LocksErr != nil {
		args = append(args, "locks_err", scrub(r.LocksErr.Error()))
	}
	if sp := r.Space; sp != nil && sp.Size != nil {
		args = append(args, "size_bytes", *sp.Size)
	}
	if sp := r.Space; sp != nil && sp.Free != nil {
		args = append(args, "free_bytes", *sp.Free)
	}
	if sp := r.Space; sp != nil && sp.Message != "" {
		args = append(args, "space_err", scrub(sp.Message))
	}
	if r.DataChecked {
		args = append(args, "data_subset", fmt.Sprintf("%d/%d", r.Subset, r.Subsets))
	}
	return args
}
