package web

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/repocheck"
	"github.com/golemtrust/backupwatch/internal/status"
)

// RepoView is one repository as its last check (repo-check) found it:
// what protects the hosts, seen beside what they say.
type RepoView struct {
	Name      string
	Colour    string // red: not listed; amber: a finding below; green
	Status    string // in words: "listed" or why not
	Checked   When
	Size      string // "" when not measured
	Growth    string // since the size before it; "" when not known
	Free      string // "" when not measured (a remote repository)
	Locks     string
	Retention string
	Hosts     int
}

// RestorePoints is what the repositories hold of one host (or job): its
// oldest and newest snapshot over every repository, and how many.
type RestorePoints struct {
	Oldest, Newest When
	Snapshots      int64
	In             string // the repositories, comma-separated
}

// Text is the restore points in words, as a small tile's hover says them.
func (p RestorePoints) Text() string {
	return fmt.Sprintf("restore points: %d in %s, oldest %s, newest %s", p.Snapshots, p.In, orNever(p.Oldest.Rel), orNever(p.Newest.Rel))
}

func orNever(s string) string {
	if s == "" {
		return "never"
	}
	return s
}

// maxNamed bounds the host names a repository's line names.
const maxNamed = 5

// repoViews turns the repositories' records into the page's lines and the
// restore points per host ("host" or "host@job").
func repoViews(recs []repocheck.Record, now time.Time) ([]RepoView, map[string]RestorePoints) {
	var out []RepoView
	points := map[string]RestorePoints{}
	type extent struct {
		oldest, newest time.Time
		n              int64
		in             []string
	}
	spans := map[string]*extent{}
	addSpan := func(key, repo string, oldest, newest time.Time, n int64) {
		s := spans[key]
		if s == nil {
			s = &extent{}
			spans[key] = s
		}
		if !oldest.IsZero() && (s.oldest.IsZero() || oldest.Before(s.oldest)) {
			s.oldest = oldest
		}
		if newest.After(s.newest) {
			s.newest = newest
		}
		s.n += n
		s.in = append(s.in, repo)
	}
	for i := range recs {
		r := &recs[i]
		name := oneLine(r.Name, maxHostText)
		v := RepoView{Name: name, Colour: "green", Status: "listed", Checked: when(r.CheckedAt, now), Hosts: len(r.Hosts)}
		switch r.Status {
		case status.Failed:
			v.Colour, v.Status = "red", "not listed: "+oneLine(r.Message, maxLine)
		case status.Unknown:
			v.Colour, v.Status = "red", "record unreadable"
		}
		if r.Space.Size != nil {
			v.Size = bytesText(*r.Space.Size)
		}
		if b, over, ok := r.Space.Growth(); ok {
			sign := "+"
			if b < 0 {
				sign, b = "-", -b
			}
			v.Growth = sign + bytesText(b) + " in " + span(over)
		}
		if r.Space.Free != nil {
			v.Free = bytesText(*r.Space.Free)
		}
		v.Locks = locksText(r.Locks, r.LocksMessage, now)
		if r.Locks != nil && r.Locks.Exclusive > 0 && v.Colour == "green" {
			v.Colour = "amber"
		}
		var missing, unapplied, beyond []string
		judged := 0
		for h, hv := range r.Hosts {
			addSpan(h, name, hv.OldestTime, hv.NewestTime, hv.Snapshots)
			// Each part (the host's own snapshots, each job's) is judged
			// on its own policy, as the rules do: a host's sums would hide
			// one job's finding behind another part's slack.
			own := ownPart{snapshots: hv.Snapshots}
			for j, jv := range r.Jobs[h] {
				addSpan(h+"@"+j, name, jv.OldestTime, jv.NewestTime, jv.Snapshots)
				own.snapshots -= jv.Snapshots
				if jv.PointsMissing == nil || jv.SnapshotsAllowed == nil {
					own.jobsAllowed += jv.Snapshots
					continue
				}
				own.jobsMissing += *jv.PointsMissing
				own.jobsAllowed += *jv.SnapshotsAllowed
				judge(h+"@"+j, *jv.PointsMissing, jv.Snapshots, *jv.SnapshotsAllowed, jv.OldestBeyondPolicy, &missing, &unapplied, &beyond)
			}
			if hv.PointsMissing == nil || hv.SnapshotsAllowed == nil {
				continue
			}
			judged++
			judge(h, *hv.PointsMissing-own.jobsMissing, own.snapshots, *hv.SnapshotsAllowed-own.jobsAllowed, hv.OldestBeyondPolicy, &missing, &unapplied, &beyond)
		}
		v.Retention = retentionText(judged, missing, unapplied, beyond)
		if len(missing)+len(unapplied)+len(beyond) > 0 && v.Colour == "green" {
			v.Colour = "amber"
		}
		out = append(out, v)
	}
	for k, s := range spans {
		points[k] = RestorePoints{Oldest: when(s.oldest, now), Newest: when(s.newest, now), Snapshots: s.n, In: strings.Join(s.in, ", ")}
	}
	return out, points
}

// ownPart is what a host's jobs take of its record's sums.
type ownPart struct {
	snapshots                int64 // the host's own: its total less its jobs'
	jobsMissing, jobsAllowed int64 // what its jobs add to its sums
}

// judge adds part (a host, or host@job) to the findings it shows:
// BackupRestorePointsMissing (missing), and BackupRetentionNotApplied for
// far too many snapshots (unapplied) or an oldest snapshot beyond the
// policy (beyond).
func judge(part string, pointsMissing, snapshots, allowed int64, oldestBeyond *bool, missing, unapplied, beyond *[]string) {
	if pointsMissing > 0 {
		*missing = append(*missing, part)
	}
	if snapshots > allowed {
		*unapplied = append(*unapplied, part)
	}
	if oldestBeyond != nil && *oldestBeyond {
		*beyond = append(*beyond, part)
	}
}

func retentionText(judged int, missing, unapplied, beyond []string) string {
	if judged == 0 {
		return "no policy declared"
	}
	if len(missing) == 0 && len(unapplied) == 0 && len(beyond) == 0 {
		return fmt.Sprintf("%s judged: every restore point there, retention applied", plural(judged, "host"))
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("%s lacking restore points (%s)", plural(len(missing), "host"), names(missing)))
	}
	if len(unapplied) > 0 {
		parts = append(parts, fmt.Sprintf("%s with far more snapshots than kept: forget not running (%s)", plural(len(unapplied), "host"), names(unapplied)))
	}
	if len(beyond) > 0 {
		parts = append(parts, fmt.Sprintf("%s whose oldest snapshot the policy no longer keeps: forget not running (%s)", plural(len(beyond), "host"), names(beyond)))
	}
	return strings.Join(parts, "; ")
}

func names(hosts []string) string {
	sort.Strings(hosts)
	if len(hosts) > maxNamed {
		return strings.Join(hosts[:maxNamed], ", ") + fmt.Sprintf(" and %d more", len(hosts)-maxNamed)
	}
	return strings.Join(hosts, ", ")
}

func locksText(l *repocheck.Locks, msg string, now time.Time) string {
	if l == nil {
		if msg != "" {
			return "not listed: " + oneLine(msg, maxLine)
		}
		return "not listed"
	}
	if l.Exclusive == 0 && l.Shared == 0 {
		return "none"
	}
	var parts []string
	for _, k := range []struct {
		kind   string
		n      int
		oldest *repocheck.LockView
	}{{"exclusive", l.Exclusive, l.OldestExclusive}, {"shared", l.Shared, l.OldestShared}} {
		if k.n == 0 {
			continue
		}
		p := fmt.Sprintf("%d %s", k.n, k.kind)
		if o := k.oldest; o != nil {
			p += fmt.Sprintf(", the oldest refreshed %s by %s pid %d", when(o.Time, now).Rel, oneLine(o.Host, maxHostText), o.PID)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// bytesText is n in IEC units, as restic prints sizes.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
