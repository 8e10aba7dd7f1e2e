package status

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzRecord: a record as any tool may have written it to the store (JSON
// read as the stores read it) is parsed without panic into one of our
// statuses with bounded text, and merging a result into it twice changes
// nothing the second time (a duplicate delivery). Seeds: testdata/records.
func FuzzRecord(f *testing.F) {
	seeds, err := filepath.Glob("testdata/records/*.json")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed records in testdata/records: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var doc map[string]any
		if dec.Decode(&doc) != nil {
			return
		}
		r := Parse("h", doc)
		switch r.Status {
		case Success, Failed, Unknown:
		default:
			t.Errorf("status %q is not one of ours", r.Status)
		}
		if len(r.Message) > maxMessage+len("…") || len(r.SnapshotID) > 64+len("…") || len(r.RawStatus) > 64+len("…") {
			t.Errorf("unbounded text kept: message %d, snapshot id %d, raw status %d bytes", len(r.Message), len(r.SnapshotID), len(r.RawStatus))
		}
		rt := ParseRestoreTest(doc)
		switch rt.Result {
		case Passed, Failed, Unknown:
		default:
			t.Errorf("restore test result %q is not one of ours", rt.Result)
		}

		code := int64(1)
		res := Result{Host: "h", Outcome: Failed, At: time.Now(), ExitCode: &code, Message: "disk full"}
		once, _ := Apply(doc, res)
		twice, changed := Apply(once, res)
		if changed {
			t.Errorf("the same result merged twice changed the record:\nonce:  %v\ntwice: %v", once, twice)
		}
		if p := Parse("h", once); p.LastFailure.IsZero() || !strings.Contains(FormatTime(p.LastFailure), FormatTime(res.At)[:10]) {
			t.Errorf("a failure of now left last_failure %v", p.LastFailure)
		}
	})
}
