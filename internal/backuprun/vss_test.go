package backuprun

import (
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Lines restic 0.19 writes on Windows with --use-fs-snapshot (see
// internal/restic/testdata/vss-windows.txt).
const (
	vssCreateJSON = `{"message_type":"error","error":{"message":"failed to create snapshot for [c:\\]: VSS error: async operation failed: VSS_E_UNEXPECTED_PROVIDER_ERROR (0x8004230f)"},"during":"archival","item":"c:\\"}`
	vssCreateText = `error: failed to create snapshot for [c:\]: VSS error: async operation failed: VSS_E_UNEXPECTED_PROVIDER_ERROR (0x8004230f)`
	vssDenied     = `VSS error: The caller does not have sufficient backup privileges or is not an administrator: E_ACCESSDENIED (0x80070005)`
	lockedFile    = `error: open C:\Users\db\data.mdf: The process cannot access the file because it is being used by another process.`
	exit3Warning  = `{"message_type":"exit_error","code":3,"message":"Warning: at least one source file could not be read"}`
)

// TestOutcomeNamesVSSFailures: a failed shadow copy is in the record's
// reason, whatever restic's exit status, even when the file errors it
// caused pushed it out of the last lines kept.
func TestOutcomeNamesVSSFailures(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	many := []string{lockedFile, lockedFile, lockedFile, lockedFile, exit3Warning}
	tests := []struct {
		name    string
		r       Result
		stderr  []string // every stderr line, as Backup sees them
		exit3   string
		outcome string
		message string
	}{
		{"exit 0: read live, said", Result{ExitCode: 0, Tail: []string{vssCreateText}}, []string{vssCreateText}, status.Failed, status.Success,
			`warning: VSS snapshot of c:\ failed, files read without it (open or locked files may be missing or inconsistent): VSS error: async operation failed: VSS_E_UNEXPECTED_PROVIDER_ERROR (0x8004230f)`},
		{"exit 1: no privilege", Result{ExitCode: 1, Tail: []string{vssDenied}}, []string{vssDenied}, status.Failed, status.Failed,
			`exit status 1: VSS unusable, restic stopped before the backup, --use-fs-snapshot needs an administrator or the backup privilege: VSS error: The caller`},
		{"exit 3: locked files after a failed snapshot", Result{ExitCode: 3, Tail: many}, append([]string{vssCreateJSON}, many...), status.Failed, status.Failed,
			`incomplete backup: exit status 3: snapshot made, but some files could not be read; VSS snapshot of c:\ failed`},
		{"exit 3 as success", Result{ExitCode: 3, Tail: many}, append([]string{vssCreateJSON}, many...), status.Success, status.Success,
			`warning: exit status 3: snapshot made, but some files could not be read; VSS snapshot of c:\ failed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Started, tt.r.Ended = t0, t0.Add(time.Minute)
			var vss VSSFailures
			for _, l := range tt.stderr {
				vss.Add(l)
			}
			res := Outcome("db", tt.r, nil, nil, tt.exit3, vss.Reasons())
			if res.Outcome != tt.outcome || !strings.HasPrefix(res.Message, tt.message) {
				t.Errorf("Outcome = %s %q,\nwant %s %q...", res.Outcome, res.Message, tt.outcome, tt.message)
			}
			if n := strings.Count(res.Message, "VSS error: async"); n > 1 {
				t.Errorf("the VSS failure is in the message %d times: %q", n, res.Message)
			}
		})
	}
}

// TestVSSFailuresBounded: a run whose every volume fails keeps the first
// few reasons, each once.
func TestVSSFailuresBounded(t *testing.T) {
	var vss VSSFailures
	for range 1000 {
		vss.Add(vssCreateText)
		vss.Add(lockedFile)
	}
	for _, v := range []string{"d", "e", "f", "g"} {
		vss.Add(strings.ReplaceAll(vssCreateText, "[c:", "["+v+":"))
	}
	got := vss.Reasons()
	if len(got) != maxVSSReasons || !strings.Contains(got[0], `c:\`) || !strings.Contains(got[1], `d:\`) {
		t.Errorf("Reasons() = %q, want the first %d distinct, c:\\ first", got, maxVSSReasons)
	}
	if _, ok := restic.VSSFailure(lockedFile); ok {
		t.Errorf("a locked file is not a VSS failure")
	}
}
