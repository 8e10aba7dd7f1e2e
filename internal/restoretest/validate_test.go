package restoretest

import (
	"errors"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/restic"
)

// TestValidate: what `restore-test run` is asked for is refused before
// anything runs, named by its flag: no repository or snapshot, an
// expected path out of the restore, a bad host to record, and a snapshot
// named beside --pick oldest; Run refuses the same as an InputError.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Test)
		want string // "" for valid
	}{
		{"latest", func(*Test) {}, ""},
		{"an ID and its host tested", func(t *Test) { t.Snapshot, t.HostTested = "4bba301e", "db" }, ""},
		{"expected paths", func(t *Test) { t.Expect = []string{"/var/lib/postgresql", "etc"} }, ""},
		{"no repository", func(t *Test) { t.Repo.Repository = " " }, "--repo must name the repository to test"},
		{"no snapshot", func(t *Test) { t.Snapshot = "" }, "--snapshot must not be empty"},
		{"an empty expected path", func(t *Test) { t.Expect = []string{" "} }, "--expect: empty path"},
		{"an expected path out of the restore", func(t *Test) { t.Expect = []string{"/srv/../../etc"} }, `--expect "/srv/../../etc": must not contain ..`},
		{"a bad host tested", func(t *Test) { t.HostTested = "db/../x" }, "--host-tested: "},
		{"pick oldest", func(t *Test) { t.PickOldest = true }, ""},
		{"pick oldest and a snapshot host", func(t *Test) { t.PickOldest, t.SnapshotHost = true, "db" }, "--pick oldest chooses the host and takes its latest snapshot"},
		{"pick oldest and a snapshot", func(t *Test) { t.PickOldest, t.Snapshot = true, "4bba301e" }, "--pick oldest chooses the host and takes its latest snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			test := &Test{Repo: restic.Repo{Repository: "/srv/restic-repo"}, Snapshot: "latest"}
			tc.edit(test)
			err := test.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want %q", err, tc.want)
			}
			if tc.want == "" {
				return
			}
			_, err = test.Run(t.Context())
			var input *InputError
			if !errors.As(err, &input) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: %v, want the same as an *InputError", err)
			}
		})
	}
}
