package status

import "strings"

// Side documents: a record's history and its last failed run's log are
// read only by the pages that show them, so a store that cannot keep them
// beside the record for free (Vault KV: serve reads the whole secret)
// keeps each in a key of its own (on KV v2, the history's key holds only
// what the record's versions do not: late results, older histories),
// beside the record's jobs, where the
// shipped writer policy (jobs/<host>@*) already lets the host write:
// jobs/<host>@~<kind> for the host's own record, jobs/<host>@<job>~<kind>
// for a job's. '~' is in no host or job name, so a side key is never a
// record's, and a store's listing of JobsFolder leaves such names out.
const (
	SideHistory = "history"
	SideLog     = "log"
	sideSep     = "~"
)

// SideKey is the key of the side document kind of the record at key.
func SideKey(key, kind string) string {
	if name, ok := strings.CutPrefix(key, JobsFolder+"/"); ok {
		return JobsFolder + "/" + name + sideSep + kind
	}
	return JobsFolder + "/" + key + jobSep + sideSep + kind
}

// IsSideName reports whether a name listed under JobsFolder is a side
// document's, not a job record's.
func IsSideName(name string) bool { return strings.Contains(name, sideSep) }

// SplitSideKey reads a side key (SideKey) as the key of its record and
// its kind; ok is false for any other key.
func SplitSideKey(key string) (record, kind string, ok bool) {
	name, isJob := strings.CutPrefix(key, JobsFolder+"/")
	i := strings.LastIndex(name, sideSep)
	if !isJob || i < 0 {
		return "", "", false
	}
	name, kind = name[:i], name[i+1:]
	if !strings.Contains(name, jobSep) || kind == "" {
		return "", "", false
	}
	if host, ok := strings.CutSuffix(name, jobSep); ok {
		return host, kind, host != ""
	}
	return JobsFolder + "/" + name, kind, true
}
