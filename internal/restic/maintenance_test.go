package restic

import "testing"

// TestMaintenance: restic forget, prune and check are maintenance, however
// restic's global flags come before them; a backup, another program, or
// restic wrapped in a shell is not (run --maintenance says so for those).
func TestMaintenance(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"restic", "forget", "--prune", "--keep-daily", "7"}, true},
		{[]string{"/usr/bin/restic", "--repo", "/srv/restic", "prune"}, true},
		{[]string{"restic", "-r", "sftp:backup@nas:/srv/restic", "--password-file", "/etc/restic/pw", "check", "--read-data-subset", "1/30"}, true},
		{[]string{"restic-0.19.1", "check"}, true},
		{[]string{"restic", "backup", "--json", "/srv"}, false},
		{[]string{"restic", "backup", "--tag", "check", "/srv"}, false},
		{[]string{"restic", "--json", "snapshots"}, false},
		{[]string{"sh", "-c", "restic forget --prune"}, false},
		{[]string{"pg_dump", "check"}, false},
		{nil, false},
	} {
		if got := Maintenance(tt.args); got != tt.want {
			t.Errorf("Maintenance(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
