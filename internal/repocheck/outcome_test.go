package repocheck

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/restic"
)

// TestScrubAndLogArgs: no secret restic said reaches the result or its
// log line, and the log line says what was found.
func TestScrubAndLogArgs(t *testing.T) {
	scrub := func(s string) string { return strings.ReplaceAll(s, "hunter2", "***") }
	size := int64(42)
	r := Result{
		Total: 3, Hosts: map[string]HostView{"db": {}}, Future: 1, Undeclared: []string{"x", "y"},
		ListErr: errors.New("list s3://u:hunter2@h/r"), DataErr: errors.New("read hunter2"),
		LocksErr: errors.New("locks hunter2"), Space: &Space{Size: &size, Message: "df hunter2"},
		DataChecked: true, Subset: 2, Subsets: 7,
	}
	r.Scrub(scrub)
	args := fmt.Sprint(r.LogArgs("main", scrub))
	for _, s := range []string{r.ListErr.Error(), r.DataErr.Error(), r.LocksErr.Error(), r.Space.Message, args} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("a secret left: %q", s)
		}
	}
	for _, want := range []string{"repository main", "snapshots 3", "hosts 1", "snapshots_from_future 1", "undeclared_hosts 2", "undeclared_first x,y",
		"locks_err locks ***", "size_bytes 42", "space_err df ***", "data_subset 2/7"} {
		if !strings.Contains(args, want) {
			t.Errorf("log args %s: want %q", args, want)
		}
	}
}

// TestRunWithoutRestic: a restic that is not there is a failed listing,
// recorded as any other.
func TestRunWithoutRestic(t *testing.T) {
	repo := restic.Repo{Binary: filepath.Join(t.TempDir(), "no-restic"), Repository: t.TempDir()}
	r := Run(context.Background(), repo, nil, Options{})
	if r.ListErr == nil || r.At.IsZero() {
		t.Errorf("Run without restic: %+v; want a failed listing, dated", r)
	}
}
