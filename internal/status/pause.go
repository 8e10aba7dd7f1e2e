package status

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Pauses: maintenance windows. A pause is its own record beside the
// host's, at <prefix>/pauses/<host> (the whole host, its jobs included) or
// <prefix>/pauses/<host>@<job> (that job): a record written by `record`
// never holds one, so records written before pauses existed read as they
// did, and the two never race for one key. The writer policy lets host db
// write pauses/db and pauses/db@* only; an operator's policy may write
// pauses/* and no record.
const PausesFolder = "pauses"

// Fields of a pause record.
const (
	FieldPausedUntil = "until"
	FieldPauseReason = "reason"
	FieldPausedAt    = "paused_at"
	// FieldResumedAt is set by resume, which ends a pause by moving its
	// until to that moment: the record stays, so who paused and why is
	// kept, and resuming needs no right to delete.
	FieldResumedAt = "resumed_at"
)

// Bounds of a pause.
const (
	// MaxPause is the longest pause without --force: a week covers a
	// maintenance window, and a pause forgotten for longer hides a host
	// that stopped backing up.
	MaxPause = 7 * 24 * time.Hour
	// MaxForcedPause is the longest pause at all: further ahead is a typo
	// (a year 2126), never maintenance.
	MaxForcedPause = 366 * 24 * time.Hour
	// MaxPauseReason bounds the reason, in characters: one line on the
	// status page.
	MaxPauseReason = 200
)

// PauseKey is the store key of the pause of host's job; of the whole
// host when job is empty.
func PauseKey(host, job string) string {
	if job == "" {
		return PausesFolder + "/" + host
	}
	return PausesFolder + "/" + host + jobSep + job
}

// SplitPauseName reads a name listed under PausesFolder ("db" or
// "db@files") as its host and job, both validated.
func SplitPauseName(name string) (host, job string, err error) {
	host, job, _ = strings.Cut(name, jobSep)
	if err := ValidateHost(host); err != nil {
		return "", "", fmt.Errorf("%s/%s: %w", PausesFolder, Truncate(name, 80), err)
	}
	if strings.Contains(name, jobSep) {
		if err := ValidateJob(job); err != nil {
			return "", "", fmt.Errorf("%s/%s: %w", PausesFolder, Truncate(name, 80), err)
		}
	}
	return host, job, nil
}

// Pause is a host's or job's maintenance window as read from the store.
type Pause struct {
	Host, Job string
	Until     time.Time // zero when unreadable (a problem says why)
	Reason    string    // as written, cut to MaxPauseReason
	PausedAt  time.Time
	ResumedAt time.Time
	Problems  []string
}

// Active reports whether the pause holds at now.
func (p Pause) Active(now time.Time) bool { return now.Before(p.Until) }

// ParsePause reads a pause record; like Parse it never fails.
func ParsePause(host, job string, data map[string]any) Pause {
	p := Pause{Host: host, Job: job}
	r := fieldReader{data: data, problems: &p.Problems}
	p.Until = r.time(FieldPausedUntil)
	if p.Until.IsZero() && len(p.Problems) == 0 {
		p.Problems = append(p.Problems, FieldPausedUntil+": missing")
	}
	if s, ok := r.str(FieldPauseReason); ok {
		p.Reason = Truncate(s, MaxPauseReason)
	}
	p.PausedAt = r.time(FieldPausedAt)
	p.ResumedAt = r.time(FieldResumedAt)
	return p
}

// ValidatePauseReason refuses a reason that is not one short line of
// plain text: it is shown on the status page and in `status`, and a
// reason with markup, line breaks or a megabyte of text is not a reason.
func ValidatePauseReason(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return errors.New("empty: say why (a ticket, the maintenance)")
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxPauseReason:
		return fmt.Errorf("%d characters, more than %d: one line, a ticket or a link", utf8.RuneCountInString(s), MaxPauseReason)
	case strings.ContainsAny(s, "<>"):
		return errors.New("contains < or >: plain text, not markup")
	}
	for _, c := range s {
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' {
			return fmt.Errorf("contains the control character %U: one line of text", c)
		}
	}
	return nil
}

// CheckPauseUntil refuses an end that is not ahead of now, or further
// ahead than MaxPause (MaxForcedPause when forced).
func CheckPauseUntil(until, now time.Time, force bool) error {
	switch d := until.Sub(now); {
	case d <= 0:
		return fmt.Errorf("%s is not in the future: a pause ends after it starts (resume ends one now)", FormatTime(until))
	case d > MaxForcedPause:
		return fmt.Errorf("%s is more than %v ahead: not a maintenance window", FormatTime(until), MaxForcedPause)
	case d > MaxPause && !force:
		return fmt.Errorf("%s is more than %v ahead: a longer pause needs --force (a forgotten pause hides a host that stopped backing up)", FormatTime(until), MaxPause)
	}
	return nil
}
