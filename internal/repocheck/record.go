package repocheck

import (
	"fmt"
	"sort"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

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
	Jobs          map[string]map[string]JobView // host -> job -> view, for snapshots tagged JobTag
	DataCheck     string                        // passed, failed or "" (none ran)
	DataCheckAt   time.Time
	DataSubset    string
	DataMessage   string
	DataCheckNext int
	DataCheckOf   int
	Future        int64  // snapshots from the future at the last listing
	Undeclared    *int64 // host names outside the declared fleet; nil when not judged
	Locks         *Locks // nil when the last check recorded none
	LocksMessage  string // why the locks could not be listed
	Space         Space
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
	if n, err := count(data[FieldFuture]); err != nil {
		bad(FieldFuture, err)
	} else if n != nil {
		r.Future = *n
	}
	if n, err := count(data[FieldUndeclared]); err == nil {
		r.Undeclared = n
	}
	if n, err := count(data[FieldHostsOverLimit]); err == nil && n != nil && *n > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d host names beyond %d in the repository were not recorded", *n, MaxHosts))
	}
	if n, err := count(data[FieldJobsOverLimit]); err == nil && n != nil && *n > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d snapshots of jobs beyond %d per host were counted in their host only", *n, MaxJobsPerHost))
	}
	if n, err := count(data[FieldHostShardsMissing]); err == nil && n != nil && *n > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d of the record's host shards missing", *n))
	}
	r.Locks, r.LocksMessage = parseLocks(data, func(p string) { r.Problems = append(r.Problems, p) })
	r.Space = parseSpace(data, func(p string) { r.Problems = append(r.Problems, p) })
	if r.LocksMessage != "" {
		r.Problems = append(r.Problems, "locks not listed: "+r.LocksMessage)
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
			hostTime := func(f string) time.Time {
				s := str(e[f])
				if s == "" {
					return time.Time{}
				}
				t, err := status.ParseTime(s)
				if err != nil {
					r.Problems = append(r.Problems, fmt.Sprintf("%s.%s.%s: %v", FieldHosts, h, f, err))
				}
				return t
			}
			v.NewestTime = hostTime(FieldNewestTime)
			v.OldestTime = hostTime(FieldOldestTime)
			v.GoneAt = hostTime(FieldGoneAt)
			if n, err := count(e[FieldFuture]); err == nil && n != nil {
				v.Future = *n
			}
			if n, err := count(e[FieldPointsMissing]); err == nil && n != nil {
				v.PointsMissing = n
			}
			if n, err := count(e[FieldSnapshotsAllowed]); err == nil && n != nil {
				v.SnapshotsAllowed = n
			}
			v.OldestBeyondPolicy = parseFlag(e[FieldOldestBeyond])
			v.NewestID = status.Truncate(str(e[FieldNewestID]), 64)
			if jobs := parseJobs(h, e[FieldJobs], func(p string) { r.Problems = append(r.Problems, p) }); len(jobs) > 0 {
				if r.Jobs == nil {
					r.Jobs = map[string]map[string]JobView{}
				}
				r.Jobs[h] = jobs
			}
			r.Hosts[h] = v
		}
	}
	return r
}
