// Package report is the weekly report of `backupwatch report`: how the
// fleet's backups went over a period, from the records' stored histories
// (so it needs no Prometheus, and works in textfile mode too).
package report

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/statusview"
)

// Record is one host's or job's part of the report: its row in the
// status view (judged now) and its history.
type Record struct {
	Row     statusview.Row
	History []status.Entry // oldest first, as status.History reads it
	Team    string         // its host's team (or owner) label; "" for none
}

// Item is a host or job in the report.
type Item struct {
	Name      string // "db", "db job files"
	Team      string
	Runs      int // in the period
	Failed    int
	LastError string // the reason of its last failure in the period
	LastFail  time.Time
	// Cut: its history is full and starts after the period's start, so
	// runs of the period's beginning are no longer kept.
	Cut bool
	// Overdue now, and since when (its last success; zero for never).
	Overdue     bool
	LastSuccess time.Time
	// SizeFirst and SizeLast are the bytes processed by its first and last
	// runs of the period that say so; -1 when none does.
	SizeFirst, SizeLast int64
}

// Report is the period's numbers.
type Report struct {
	Store      string
	Since, Now time.Time
	Items      []Item
	Runs       int
	Succeeded  int
	// RestoreTests are the restore tests as the status view has them.
	RestoreTests []statusview.RestoreTest
	// Teams are the period's numbers per team, by name, those with no
	// team last (Name ""); none when no record has a team.
	Teams []Team
}

// Team is one team's part of the report: its hosts' and jobs' runs.
type Team struct {
	Name      string // "" for the hosts of no team
	Items     int    // hosts and jobs
	NeedLook  int    // of them failed in the period, or overdue or failed now
	Runs      int
	Succeeded int
}

// Share is the share of the team's runs that succeeded, in percent; -1
// when there were none.
func (t Team) Share() float64 {
	if t.Runs == 0 {
		return -1
	}
	return 100 * float64(t.Succeeded) / float64(t.Runs)
}

// teams sums items by team; none when no item has one.
func teams(items []Item) []Team {
	byName := map[string]*Team{}
	named := false
	for _, it := range items {
		t := byName[it.Team]
		if t == nil {
			t = &Team{Name: it.Team}
			byName[it.Team] = t
		}
		named = named || it.Team != ""
		t.Items++
		t.Runs += it.Runs
		t.Succeeded += it.Runs - it.Failed
		if it.needsLook() {
			t.NeedLook++
		}
	}
	if !named {
		return nil
	}
	out := make([]Team, 0, len(byName))
	for _, t := range byName {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Team) int {
		if (a.Name == "") != (b.Name == "") {
			return strings.Compare(b.Name, a.Name) // no team last
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func (it Item) needsLook() bool { return it.Failed > 0 || it.Overdue }

// Build makes the report of records for the period from since to now.
func Build(store string, records []Record, restore []statusview.RestoreTest, since, now time.Time) Report {
	rep := Report{Store: store, Since: since, Now: now, RestoreTests: restore}
	for _, r := range records {
		it := Item{Name: status.Name(r.Row.Host, r.Row.Job), Team: r.Team, Overdue: r.Row.Overdue || r.Row.Status == status.Failed,
			LastSuccess: r.Row.Record.LastSuccess, SizeFirst: -1, SizeLast: -1}
		if len(r.History) >= status.HistoryLen && r.History[0].At.After(since) {
			it.Cut = true
		}
		for _, e := range r.History {
			if e.At.Before(since) || e.At.After(now) {
				continue
			}
			it.Runs++
			if e.Outcome == status.Failed {
				it.Failed++
				it.LastFail, it.LastError = e.At, e.Reason
			}
			if e.BytesProcessed != nil {
				if it.SizeFirst < 0 {
					it.SizeFirst = *e.BytesProcessed
				}
				it.SizeLast = *e.BytesProcessed
			}
		}
		rep.Runs += it.Runs
		rep.Succeeded += it.Runs - it.Failed
		rep.Items = append(rep.Items, it)
	}
	slices.SortStableFunc(rep.Items, func(a, b Item) int { return strings.Compare(a.Name, b.Name) })
	rep.Teams = teams(rep.Items)
	return rep
}

// Share is the share of the period's runs that succeeded, in percent; -1
// when there were none.
func (r Report) Share() float64 {
	if r.Runs == 0 {
		return -1
	}
	return 100 * float64(r.Succeeded) / float64(r.Runs)
}

// Title is the report in one line, the subject of its mail.
func (r Report) Title() string {
	failing := 0
	for _, it := range r.Items {
		if it.needsLook() {
			failing++
		}
	}
	share := "no runs"
	if s := r.Share(); s >= 0 {
		share = fmt.Sprintf("%.1f%% of %d runs succeeded", s, r.Runs)
	}
	return fmt.Sprintf("Backup report, %s to %s: %s, %d of %d hosts and jobs need a look", r.Since.UTC().Format("2006-01-02"), r.Now.UTC().Format("2006-01-02"), share, failing, len(r.Items))
}

// WriteText writes the report for people.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Backup report for %s\nfrom %s to %s (%s)\n\n", r.Store, day(r.Since), day(r.Now), span(r.Now.Sub(r.Since)))
	if share := r.Share(); share < 0 {
		fmt.Fprintf(&b, "Runs: none recorded in the period, of %d hosts and jobs.\n", len(r.Items))
	} else {
		fmt.Fprintf(&b, "Runs: %d, %d succeeded (%.1f%%), %d failed, of %d hosts and jobs.\n", r.Runs, r.Succeeded, share, r.Runs-r.Succeeded, len(r.Items))
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(r.Teams) > 0 {
		fmt.Fprintf(tw, "Per team (%d):\n", len(r.Teams))
		for _, t := range r.Teams {
			fmt.Fprintf(tw, "  %s\t%s\t%d of %d hosts and jobs need a look\n", teamName(t.Name), teamShare(t), t.NeedLook, t.Items)
		}
		fmt.Fprintln(tw)
	}
	section := func(title string, keep func(Item) bool, row func(Item) string) {
		var rows []string
		for _, it := range r.Items {
			if keep(it) {
				rows = append(rows, row(it))
			}
		}
		if len(rows) == 0 {
			fmt.Fprintf(tw, "%s: none.\n", title)
		} else {
			fmt.Fprintf(tw, "%s (%d):\n", title, len(rows))
			for _, l := range rows {
				fmt.Fprintln(tw, "  "+l)
			}
		}
		fmt.Fprintln(tw)
	}
	section("Failed in the period", func(it Item) bool { return it.Failed > 0 }, func(it Item) string {
		return fmt.Sprintf("%s\t%d of %d runs failed\tlast %s\t%s", it.Name, it.Failed, it.Runs, day(it.LastFail), oneLine(it.LastError))
	})
	section("Overdue or failed now", func(it Item) bool { return it.Overdue }, func(it Item) string {
		if it.LastSuccess.IsZero() {
			return it.Name + "\tnever succeeded"
		}
		return fmt.Sprintf("%s\tno success for %s\tlast success %s", it.Name, span(r.Now.Sub(it.LastSuccess)), day(it.LastSuccess))
	})
	section("Size (bytes processed, first and last run of the period)", func(it Item) bool { return it.SizeLast >= 0 }, func(it Item) string {
		return fmt.Sprintf("%s\t%s\t%s\t%s", it.Name, bytesText(it.SizeFirst), bytesText(it.SizeLast), growth(it.SizeFirst, it.SizeLast))
	})
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.RestoreTests) == 0 {
		b.WriteString("Restore tests: none recorded.\n")
	}
	for _, rt := range r.RestoreTests {
		name := "Restore test"
		if rt.Job != "" {
			name += " " + rt.Job
		}
		due := "due within " + span(status.RestoreTestInterval)
		if rt.Overdue {
			due = "DUE NOW"
		}
		when := "never"
		if rt.LastTest != "" {
			when = rt.LastTest
		}
		fmt.Fprintf(&b, "%s: %s, last %s; %s.\n", name, orDash(rt.Result), when, due)
	}
	var cut []string
	for _, it := range r.Items {
		if it.Cut {
			cut = append(cut, it.Name)
		}
	}
	if len(cut) > 0 {
		fmt.Fprintf(&b, "\nOnly the last %d runs are kept: the period's first runs of %s are not counted.\n", status.HistoryLen, strings.Join(cut, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func teamName(n string) string {
	if n == "" {
		return "(no team)"
	}
	return oneLine(n)
}

func teamShare(t Team) string {
	if s := t.Share(); s >= 0 {
		return fmt.Sprintf("%d of %d runs succeeded (%.1f%%)", t.Succeeded, t.Runs, s)
	}
	return "no runs"
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return status.Truncate(s, 100)
}

// span is a duration in days and hours.
func span(d time.Duration) string {
	h := int64(d.Round(time.Hour) / time.Hour)
	switch {
	case h < 48:
		return strconv.FormatInt(h, 10) + " h"
	case h%24 == 0:
		return strconv.FormatInt(h/24, 10) + " d"
	}
	return strconv.FormatInt(h/24, 10) + " d " + strconv.FormatInt(h%24, 10) + " h"
}

func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n), 0
	for f >= unit && i < 6 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + string("KMGTPE"[i-1]) + "iB"
}

func growth(first, last int64) string {
	if first <= 0 {
		return ""
	}
	return fmt.Sprintf("%+.1f%%", 100*(float64(last)-float64(first))/float64(first))
}
