package deliver

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Waiting is a spooled entry as `flush --list` shows it.
type Waiting struct {
	Item     spool.Item
	Rejected bool // set aside as refused for good
}

// List returns the entries waiting in the spool, then those set aside as
// refused for good, each oldest first. It changes nothing: a file that is
// not an entry is logged and left for the next flush to set aside.
func (d *Deliverer) List() ([]Waiting, error) {
	if d.sp == nil {
		return nil, nil
	}
	items, problems, err := d.sp.List()
	for _, p := range problems {
		d.log.Warn("unreadable spool file: left in place, the next flush sets it aside", "spool", d.sp.Dir(), "file", p.Name, "err", p.Err)
	}
	if err != nil {
		return nil, err
	}
	var out []Waiting
	for _, it := range items {
		out = append(out, Waiting{Item: it})
	}
	rejected, err := d.sp.Rejected()
	for _, it := range rejected {
		out = append(out, Waiting{Item: it, Rejected: true})
	}
	return out, err
}

// WriteList writes ws as `flush --list` prints them: a table, one entry a
// line, with its age at now.
func WriteList(w io.Writer, ws []Waiting, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tHOST\tOUTCOME\tAT\tSPOOLED_AT\tAGE\tSUMMARY")
	for _, wt := range ws {
		it := wt.Item
		state := "waiting"
		if wt.Rejected {
			state = "rejected"
		}
		host := it.Entry.Key()
		if it.Entry.RestoreTest != nil {
			host = "-"
		}
		spooled, age := "-", "-"
		if !it.SpooledAt.IsZero() {
			spooled, age = status.FormatTime(it.SpooledAt), now.Sub(it.SpooledAt).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID(), state, it.Entry.Kind(), host, Outcome(it.Entry),
			status.FormatTime(it.Entry.At()), spooled, age, Summary(it.Entry))
	}
	return tw.Flush()
}

// maxSummaryMessage bounds the message shown in a summary.
const maxSummaryMessage = 80

// Summary is a one-line description of what an entry would write: its
// outcome fields and the start of its message, control characters
// removed. It holds what the record itself would hold, nothing more.
func Summary(e spool.Entry) string {
	var parts []string
	switch {
	case e.Result != nil:
		r := e.Result
		if r.ExitCode != nil {
			parts = append(parts, "exit "+strconv.FormatInt(*r.ExitCode, 10))
		}
		if r.Duration != nil {
			parts = append(parts, "took "+(time.Duration(*r.Duration*float64(time.Second))).Round(time.Second).String())
		}
		if id := r.Extra[status.FieldSnapshotID]; id != "" {
			parts = append(parts, "snapshot "+oneLine(id, 16))
		}
		if r.Message != "" {
			parts = append(parts, fmt.Sprintf("%q", oneLine(r.Message, maxSummaryMessage)))
		}
	case e.RestoreTest != nil:
		rt := e.RestoreTest
		parts = append(parts, "of "+oneLine(rt.HostTested, 64))
		if rt.TimeToRestoreMinutes != nil {
			parts = append(parts, "took "+strconv.FormatFloat(*rt.TimeToRestoreMinutes, 'f', -1, 64)+"m")
		}
		if rt.Notes != "" {
			parts = append(parts, fmt.Sprintf("%q", oneLine(rt.Notes, maxSummaryMessage)))
		}
	}
	return strings.Join(parts, ", ")
}

// Outcome is the entry's outcome as the list shows it.
func Outcome(e spool.Entry) string {
	switch {
	case e.Result != nil && e.Result.Outcome == "":
		return "-"
	case e.Result != nil:
		return e.Result.Outcome
	case e.RestoreTest != nil:
		return e.RestoreTest.Result
	}
	return "-"
}

func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return status.Truncate(strings.TrimSpace(s), n)
}
