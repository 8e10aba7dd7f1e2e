// Package repocheck is the repository as a second witness: what restic's
// own listing of a repository says about each host in it (newest snapshot,
// snapshot count), and a data check that reads a different part of the
// repository at each run (restic check --read-data-subset=n/N), so the
// whole of it is read over N runs. One record per repository.
package repocheck

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/restic"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Record fields. The hosts are one nested object, keyed by host name.
const (
	FieldCheckedAt       = "checked_at"   // when this check ran (listing attempted)
	FieldStatus          = "status"       // success or failed: the listing
	FieldMessage         = "message"      // why the listing failed
	FieldLastSuccess     = "last_success" // when a listing last succeeded
	FieldSnapshots       = "snapshots"    // snapshots in the repository
	FieldHosts           = "hosts"        // host -> {newest_time, newest_id, snapshots}
	FieldNewestTime      = "newest_time"
	FieldNewestID        = "newest_id"
	FieldDataCheck       = "data_check"         // passed or failed: the last data check
	FieldDataCheckAt     = "data_check_at"      // when it ran
	FieldDataCheckSubset = "data_check_subset"  // the subset it read, "n/N"
	FieldDataCheckMsg    = "data_check_message" // why it failed
	FieldDataCheckNext   = "data_check_next"    // the subset the next run reads (1..N)
	FieldDataCheckOf     = "data_check_of"      // N
	FieldWriter          = status.FieldWriter
)

// MaxSubsets bounds N: more runs than this to read a repository once is
// more than a decade of daily checks.
const MaxSubsets = 10000

// ValidateName refuses a repository name that cannot be a record key or a
// label: the same rules as host names.
func ValidateName(name string) error {
	if err := status.ValidateHost(name); err != nil {
		return fmt.Errorf("repository name: %w", err)
	}
	return nil
}

// DefaultName is a record name for a repository location: its last path
// element, without any credentials the location may hold, made a valid
// name ("" when nothing is left).
func DefaultName(location string) string {
	loc := location
	if i := strings.LastIndex(loc, "@"); i >= 0 {
		loc = loc[i+1:] // rest:https://user:pass@host/x, sftp:user@host:/x
	}
	loc = strings.TrimRight(loc, "/")
	if i := strings.LastIndexAny(loc, "/:"); i >= 0 {
		loc = loc[i+1:]
	}
	var b strings.Builder
	for _, c := range loc {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-.")
	if len(name) > 63 {
		name = strings.Trim(name[:63], "-.")
	}
	if ValidateName(name) != nil {
		return ""
	}
	return name
}

// HostView is what the repository holds of one host.
type HostView struct {
	Snapshots  int64
	NewestTime time.Time // zero when it has none (any more)
	NewestID   string
}

// Result is one check of a repository.
type Result struct {
	At      time.Time
	ListErr error // the listing failed: nothing is known of the hosts
	Total   int64
	Hosts   map[string]HostView
	// Data check, when one ran.
	DataChecked bool
	DataErr     error
	Subset      int // n of n/N that was read
	Subsets     int // N
}

// Options of a check.
type Options struct {
	Subsets int      // N; 0: no data check
	Expect  []string // hosts that must be in the repository (reported with 0 when absent)
	NoLock  bool     // restic check --no-lock (a read-only repository)
	Now     func() time.Time
}

// Check lists the repository and, when opts.Subsets > 0, reads the next
// subset of its data; old is the repository's record, for the rotation.
// It never fails: what went wrong is in the result, to be recorded.
func Check(ctx context.Context, repo restic.Repo, old map[string]any, opts Options) Result {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	res := Result{At: now()}
	snaps, err := repo.Snapshots(ctx, "")
	if err != nil {
		res.ListErr = err
		return res
	}
	res.Total = int64(len(snaps))
	res.Hosts = map[string]HostView{}
	for _, h := range opts.Expect {
		res.Hosts[h] = HostView{}
	}
	for _, s := range snaps {
		h := s.Hostname
		if ValidateName(h) != nil {
			// A snapshot's host name is whatever its writer said: keep it
			// out of labels and keys unless it is a host name.
			h = "invalid-hostname"
		}
		v := res.Hosts[h]
		v.Snapshots++
		if s.Time.After(v.NewestTime) {
			v.NewestTime, v.NewestID = s.Time, s.ID
		}
		res.Hosts[h] = v
	}
	if opts.Subsets <= 0 {
		return res
	}
	res.DataChecked, res.Subsets = true, opts.Subsets
	res.Subset = nextSubset(Parse("", old), opts.Subsets)
	res.DataErr = repo.CheckData(ctx, restic.CheckOptions{Subset: fmt.Sprintf("%d/%d", res.Subset, opts.Subsets), NoLock: opts.NoLock})
	return res
}

// nextSubset is the subset to read now: the stored next one, or 1 when the
// rotation is new or its N changed.
func nextSubset(r Record, n int) int {
	if r.DataCheckOf != n || r.DataCheckNext < 1 || r.DataCheckNext > n {
		return 1
	}
	return r.DataCheckNext
}

// Apply returns the record to write for res over old. A failed listing
// changes only the check's own fields: the hosts keep what the last
// successful listing said, so a repository that cannot be opened is one
// failure, never "every host disagrees". Hosts listed before and absent
// now stay, with 0 snapshots: their snapshots were deleted.
func Apply(old map[string]any, res Result, writer string) map[string]any {
	doc := maps.Clone(old)
	if doc == nil {
		doc = map[string]any{}
	}
	doc[FieldCheckedAt] = status.FormatTime(res.At)
	if writer != "" {
		doc[FieldWriter] = writer
	}
	if res.ListErr != nil {
		doc[FieldStatus] = status.Failed
		doc[FieldMessage] = status.Truncate(oneLine(res.ListErr.Error()), 500)
		return doc
	}
	doc[FieldStatus] = status.Success
	delete(doc, FieldMessage)
	doc[FieldLastSuccess] = status.FormatTime(res.At)
	doc[FieldSnapshots] = strconv.FormatInt(res.Total, 10)
	hosts := map[string]any{}
	for h := range Parse("", old).Hosts {
		hosts[h] = map[string]any{FieldSnapshots: "0"}
	}
	for h, v := range res.Hosts {
		e := map[string]any{FieldSnapshots: strconv.FormatInt(v.Snapshots, 10)}
		if !v.NewestTime.IsZero() {
			e[FieldNewestTime] = v.NewestTime.UTC().Format(time.RFC3339Nano)
			e[FieldNewestID] = v.NewestID
		}
		hosts[h] = e
	}
	doc[FieldHosts] = hosts
	if res.DataChecked {
		doc[FieldDataCheckAt] = status.FormatTime(res.At)
		doc[FieldDataCheckSubset] = fmt.Sprintf("%d/%d", res.Subset, res.Subsets)
		doc[FieldDataCheckOf] = strconv.Itoa(res.Subsets)
		next := res.Subset
		if res.DataErr == nil {
			doc[FieldDataCheck] = status.Passed
			delete(doc, FieldDataCheckMsg)
			next = res.Subset%res.Subsets + 1
		} else {
			// The same subset again next time: a failure stays visible
			// until it is repaired, and the rotation resumes from there.
			doc[FieldDataCheck] = status.Failed
			doc[FieldDataCheckMsg] = status.Truncate(oneLine(res.DataErr.Error()), 500)
		}
		doc[FieldDataCheckNext] = strconv.Itoa(next)
	}
	return doc
}

// Record is a repository record as read, tolerantly: like status.Parse it
// never fails, and says what was wrong in Problems.
type Record struct {
	Name          string
	CheckedAt     time.Time
	Status        string // success, failed or unknown
	Message       string
	LastSuccess   time.Time
	Snapshots     *int64
	Hosts         map[string]HostView
	DataCheck     string // passed, failed or "" (none ran)
	DataCheckAt   time.Time
	DataSubset    string
	DataMessage   string
	DataCheckNext int
	DataCheckOf   int
	Problems      []string
}

// MaxHosts bounds the hosts read from one record.
const MaxHosts = 100000

// Parse reads a repository record.
func Parse(name string, data map[string]any) Record {
	r := Record{Name: name, Status: status.Unknown}
	if data == nil {
		r.Problems = append(r.Problems, "no record")
		return r
	}
	bad := func(f string, err error) { r.Problems = append(r.Problems, f+": "+err.Error()) }
	tm := func(f string) time.Time {
		s := str(data[f])
		if s == "" {
			return time.Time{}
		}
		t, err := status.ParseTime(s)
		if err != nil {
			bad(f, err)
		}
		return t
	}
	r.CheckedAt = tm(FieldCheckedAt)
	switch s := str(data[FieldStatus]); s {
	case status.Success, status.Failed:
		r.Status = s
	case "":
		r.Problems = append(r.Problems, "status: missing")
	default:
		r.Problems = append(r.Problems, fmt.Sprintf("status: unrecognised value %q", status.Truncate(s, 64)))
	}
	r.Message = status.Truncate(str(data[FieldMessage]), 1024)
	r.LastSuccess = tm(FieldLastSuccess)
	if n, err := count(data[FieldSnapshots]); err != nil {
		bad(FieldSnapshots, err)
	} else {
		r.Snapshots = n
	}
	switch s := str(data[FieldDataCheck]); s {
	case status.Passed, status.Failed, "":
		r.DataCheck = s
	default:
		r.Problems = append(r.Problems, fmt.Sprintf("%s: unrecognised value %q", FieldDataCheck, status.Truncate(s, 64)))
	}
	r.DataCheckAt = tm(FieldDataCheckAt)
	r.DataSubset = status.Truncate(str(data[FieldDataCheckSubset]), 32)
	r.DataMessage = status.Truncate(str(data[FieldDataCheckMsg]), 1024)
	if n, err := count(data[FieldDataCheckNext]); err == nil && n != nil && *n <= MaxSubsets {
		r.DataCheckNext = int(*n)
	}
	if n, err := count(data[FieldDataCheckOf]); err == nil && n != nil && *n <= MaxSubsets {
		r.DataCheckOf = int(*n)
	}
	if raw, ok := data[FieldHosts]; ok && raw != nil {
		hosts, ok := raw.(map[string]any)
		if !ok {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: not an object but %T", FieldHosts, raw))
		}
		r.Hosts = map[string]HostView{}
		names := make([]string, 0, len(hosts))
		for h := range hosts {
			names = append(names, h)
		}
		sort.Strings(names)
		for _, h := range names {
			if len(r.Hosts) == MaxHosts {
				r.Problems = append(r.Problems, fmt.Sprintf("%s: more than %d hosts, the rest ignored", FieldHosts, MaxHosts))
				break
			}
			if err := status.ValidateHost(h); err != nil {
				r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", FieldHosts, err))
				continue
			}
			e, ok := hosts[h].(map[string]any)
			if !ok {
				r.Problems = append(r.Problems, fmt.Sprintf("%s.%s: not an object", FieldHosts, h))
				continue
			}
			var v HostView
			n, err := count(e[FieldSnapshots])
			if err != nil || n == nil {
				r.Problems = append(r.Problems, fmt.Sprintf("%s.%s.%s: missing or not a count", FieldHosts, h, FieldSnapshots))
				continue
			}
			v.Snapshots = *n
			if s := str(e[FieldNewestTime]); s != "" {
				t, err := status.ParseTime(s)
				if err != nil {
					r.Problems = append(r.Problems, fmt.Sprintf("%s.%s.%s: %v", FieldHosts, h, FieldNewestTime, err))
				}
				v.NewestTime = t
			}
			v.NewestID = status.Truncate(str(e[FieldNewestID]), 64)
			r.Hosts[h] = v
		}
	}
	return r
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case fmt.Stringer: // json.Number
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// count reads a non-negative whole number written as a string or number.
func count(v any) (*int64, error) {
	s := str(v)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return nil, errors.New("not a count: " + strconv.Quote(status.Truncate(s, 32)))
	}
	return &n, nil
}

// oneLine joins a multi-line message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
