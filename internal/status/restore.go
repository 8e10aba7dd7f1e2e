package status

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"
)

// Restore test fields, as the runbook's `vault kv put` writes them.
const (
	FieldLastTest             = "last_test"
	FieldResult               = "result"
	FieldHostTested           = "host_tested"
	FieldTimeToRestoreMinutes = "time_to_restore_minutes"
	FieldNotes                = "notes"
)

// RestoreTestInterval is how old the last restore test may be: the
// runbook's quarterly test. RestoreTestOverdue (deploy/prometheus/backup.yml,
// 7776000 s) and `backupwatch status` both use it.
const RestoreTestInterval = 90 * 24 * time.Hour

// Restore test results.
const (
	Passed = "passed"
	// Failed is shared with backup status.
)

var resultSynonyms = map[string]string{
	"passed": Passed, "pass": Passed, "success": Passed, "ok": Passed, "succeeded": Passed,
	"failed": Failed, "fail": Failed, "failure": Failed, "error": Failed,
}

// RestoreTest is the last restore test as recorded.
type RestoreTest struct {
	Job                  string // "" for the runbook's one restore test record
	LastTest             time.Time
	Result               string // Passed, Failed or Unknown
	HostTested           string
	TimeToRestoreMinutes *float64
	Notes                string
	// Claimed is LastTest as written when it lay more than ClockSkew
	// ahead when first read (see ClampFuture); zero otherwise.
	Claimed  time.Time
	Problems []string
}

// Key is the store key the restore test is written to.
func (rt RestoreTest) Key() string { return Key(RestoreTestKey, rt.Job) }

// Passed reports whether the last restore test is recorded as passed.
func (rt RestoreTest) Passed() bool { return rt.Result == Passed }

// ParseRestoreTest reads the restore test record tolerantly, like Parse.
func ParseRestoreTest(data map[string]any) RestoreTest {
	rt := RestoreTest{Result: Unknown}
	if data == nil {
		rt.Problems = append(rt.Problems, "no record")
		return rt
	}
	p := fieldReader{data: data, problems: &rt.Problems}
	rt.LastTest = p.time(FieldLastTest)
	if rt.LastTest.IsZero() {
		rt.Problems = append(rt.Problems, "last_test: not established")
	}
	if s, ok := p.str(FieldResult); ok {
		if v, known := resultSynonyms[strings.ToLower(strings.TrimSpace(s))]; known {
			rt.Result = v
		} else {
			rt.Problems = append(rt.Problems, fmt.Sprintf("result: unrecognised value %q, taken as unknown", Truncate(s, 64)))
		}
	} else {
		rt.Problems = append(rt.Problems, "result: missing")
	}
	if h, ok := p.str(FieldHostTested); ok {
		rt.HostTested = Truncate(h, maxHostLen)
	}
	rt.TimeToRestoreMinutes = p.float(FieldTimeToRestoreMinutes)
	if n, ok := p.str(FieldNotes); ok {
		rt.Notes = Truncate(n, maxMessage)
	}
	return rt
}

// ApplyRestoreTest returns the document to write for rt over old, keeping
// fields it does not know. A test older than the stored one changes nothing.
func ApplyRestoreTest(old map[string]any, rt RestoreTest) (map[string]any, bool) {
	cur := ParseRestoreTest(old)
	if rt.LastTest.Before(cur.LastTest) && !cur.LastTest.After(time.Now().Add(ClockSkew)) {
		return old, false
	}
	doc := maps.Clone(old)
	if doc == nil {
		doc = map[string]any{}
	}
	doc[FieldLastTest] = FormatTime(rt.LastTest)
	doc[FieldResult] = rt.Result
	doc[FieldHostTested] = rt.HostTested
	delete(doc, FieldTimeToRestoreMinutes)
	if rt.TimeToRestoreMinutes != nil {
		doc[FieldTimeToRestoreMinutes] = strconv.FormatFloat(*rt.TimeToRestoreMinutes, 'f', -1, 64)
	}
	delete(doc, FieldNotes)
	if n := CleanText(rt.Notes); n != "" {
		doc[FieldNotes] = Truncate(n, maxMessage)
	}
	return doc, true
}
