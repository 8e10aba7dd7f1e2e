package restic

import "strings"

// What restic backup --use-fs-snapshot says on Windows when the Volume
// Shadow Copy Service fails (restic's internal/fs/vss_windows.go and
// fs_local_vss.go, 0.12 to 0.19): every VSS error reads "VSS error: ..."
// (an HRESULT's name and number after it); a volume whose snapshot failed is
// "failed to create snapshot for [c:\]: ...", reported as an archival error
// while restic goes on reading the live files; a snapshot left behind is
// "failed to delete VSS snapshot: ...". Without the privileges VSS needs,
// restic stops before the backup with the bare "VSS error: ..." (exit 1).
const (
	vssError         = "VSS error: "
	vssCreateFailed  = "failed to create snapshot for ["
	vssDeleteFailed  = "failed to delete VSS snapshot: "
	vssAccessDenied  = "E_ACCESSDENIED"
	vssExcludeOption = "vss.exclude-volumes"
)

// VSSFailure reads one line of restic backup's error output, as text or
// --json, and, when it tells of a Volume Shadow Copy failure, says in one
// line what that failure means for the backup, the cause after a colon:
// "VSS snapshot of c:\ failed, files read without it (...): VSS error: ...".
func VSSFailure(line string) (string, bool) {
	l := HumanError(strings.TrimSpace(line))
	if !strings.Contains(l, vssError) && !strings.Contains(l, vssCreateFailed) &&
		!strings.Contains(l, vssDeleteFailed) && !strings.Contains(l, vssExcludeOption) {
		return "", false
	}
	var reason string
	switch {
	case strings.Contains(l, vssCreateFailed):
		rest := l[strings.Index(l, vssCreateFailed)+len(vssCreateFailed):]
		volume, cause, ok := strings.Cut(rest, "]: ")
		if !ok {
			volume, cause = "a volume", rest
		}
		reason = "VSS snapshot of " + volume + " failed, files read without it (open or locked files may be missing or inconsistent): " + cause
	case strings.Contains(l, vssDeleteFailed):
		cause := l[strings.Index(l, vssDeleteFailed)+len(vssDeleteFailed):]
		reason = "VSS snapshot left behind, not deleted (it holds disk space until removed: vssadmin list shadows): " + cause
	case strings.Contains(l, vssExcludeOption):
		reason = "VSS option refused: " + strings.TrimPrefix(l, "error: ")
	case strings.HasPrefix(l, vssError) || strings.HasPrefix(l, "Fatal: "+vssError):
		// restic's exit message: it stopped before reading anything.
		cause := strings.TrimPrefix(l, "Fatal: ")
		hint := ""
		if strings.Contains(cause, vssAccessDenied) {
			hint = ", --use-fs-snapshot needs an administrator or the backup privilege"
		}
		reason = "VSS unusable, restic stopped before the backup" + hint + ": " + cause
	default:
		reason = "VSS failure: " + l[strings.Index(l, vssError):]
	}
	return printable(reason), true
}
