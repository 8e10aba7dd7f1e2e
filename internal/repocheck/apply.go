package repocheck

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Apply returns the record to write for res over old. A failed listing
// changes only the check's own fields: the hosts keep what the last
// successful listing said, so a repository that cannot be opened is one
// failure, never "every host disagrees". Hosts listed before and absent
// now stay, with 0 snapshots (their snapshots were deleted), for
// HostsKeptFor.
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
	doc[FieldFuture] = strconv.FormatInt(res.Future, 10)
	delete(doc, FieldUndeclared)
	if res.Undeclared != nil {
		doc[FieldUndeclared] = strconv.Itoa(len(res.Undeclared))
	}
	delete(doc, FieldHostsOverLimit)
	if res.OverLimit > 0 {
		doc[FieldHostsOverLimit] = strconv.FormatInt(res.OverLimit, 10)
	}
	delete(doc, FieldJobsOverLimit)
	if res.JobsOverLimit > 0 {
		doc[FieldJobsOverLimit] = strconv.FormatInt(res.JobsOverLimit, 10)
	}
	hosts := make(map[string]any, len(res.Hosts))
	for h, v := range Parse("", old).Hosts {
		if _, ok := res.Hosts[h]; ok || len(hosts) >= MaxHosts {
			continue
		}
		gone := v.GoneAt
		if gone.IsZero() || v.Snapshots > 0 {
			gone = res.At
		}
		if res.At.Sub(gone) > HostsKeptFor {
			continue
		}
		hosts[h] = map[string]any{FieldSnapshots: "0", FieldGoneAt: status.FormatTime(gone)}
	}
	for h, v := range res.Hosts {
		e := map[string]any{FieldSnapshots: strconv.FormatInt(v.Snapshots, 10)}
		if !v.NewestTime.IsZero() {
			e[FieldNewestTime] = v.NewestTime.UTC().Format(time.RFC3339Nano)
			e[FieldNewestID] = v.NewestID
		}
		if !v.OldestTime.IsZero() {
			e[FieldOldestTime] = v.OldestTime.UTC().Format(time.RFC3339Nano)
		}
		if v.Future > 0 {
			e[FieldFuture] = strconv.FormatInt(v.Future, 10)
		}
		if v.PointsMissing != nil && v.SnapshotsAllowed != nil {
			e[FieldPointsMissing] = strconv.FormatInt(*v.PointsMissing, 10)
			e[FieldSnapshotsAllowed] = strconv.FormatInt(*v.SnapshotsAllowed, 10)
		}
		if v.OldestBeyondPolicy != nil {
			e[FieldOldestBeyond] = flag(*v.OldestBeyondPolicy)
		}
		applyJobs(e, res.Jobs[h])
		hosts[h] = e
	}
	doc[FieldHosts] = hosts
	applyLocks(doc, res)
	applySpace(doc, res.Space, res.At)
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
