package nagios

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
)

// Prefix opens the summary line: the guidelines' "SERVICE STATUS: text".
const Prefix = "BACKUP"

// MaxLines bounds the lines after the summary, so that a fleet in trouble
// still fits a monitoring system's output buffer (Nagios keeps 8 kB by
// default); the lines that do not fit are counted.
const MaxLines = 100

// maxNames bounds the names the summary line lists per state.
const maxNames = 3

// Perf is one performance datum: 'label'=value[UOM];[warn];[crit];[min];[max].
type Perf struct {
	Label      string
	Value      *float64 // nil: "U", the value could not be determined
	UOM        string
	Warn, Crit string
	Min, Max   string
}

func (p Perf) String() string {
	v := "U"
	if p.Value != nil {
		v = num(*p.Value) + p.UOM
	}
	return fmt.Sprintf("%s=%s;%s;%s;%s;%s", label(p.Label), v, p.Warn, p.Crit, p.Min, p.Max)
}

// label quotes a label as the guidelines ask when it holds a space, an
// equals sign or a quote (a quote doubled).
func label(s string) string {
	if !strings.ContainsAny(s, " ='") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func ptr(f float64) *float64 { return &f }

// Line makes free text one line of plugin output: control characters
// and escapes gone, newlines and tabs as spaces, and no "|", which would
// start the performance data.
func Line(s string) string {
	s = status.CleanText(s)
	s = strings.NewReplacer("\n", " ", "\t", " ", "|", "/").Replace(s)
	return s
}

// perfs are a verdict's performance data, labelled with prefix.
func (v Verdict) perfs(prefix string) []Perf {
	return []Perf{
		{Label: prefix + "age", Value: v.Age, UOM: "s", Warn: num(v.WarnAge), Crit: num(v.CritAge), Min: "0"},
		{Label: prefix + "failures", Value: ptr(float64(v.Failures)), Warn: strconv.FormatInt(v.WarnFail, 10), Crit: strconv.FormatInt(v.CritFail, 10), Min: "0"},
	}
}

// Write writes the check as the plugin guidelines have it: one summary
// line with its performance data after a "|", then a line per record
// (every record when narrowed, else those not OK, at most MaxLines), then
// the records' own performance data after a "|" when narrowed.
func (c Check) Write(w io.Writer) error {
	var b strings.Builder
	single := c.Narrowed && len(c.Verdicts) == 1
	var perf []Perf
	if single {
		v := c.Verdicts[0]
		fmt.Fprintf(&b, "%s %s - %s: %s", Prefix, c.State, v.Name, Line(v.Why))
		perf = v.perfs("")
	} else {
		b.WriteString(Prefix + " " + c.State.String() + " - " + c.summary())
		perf = c.counts()
	}
	if c.RestoreAge != nil {
		perf = append(perf, Perf{Label: "restore_test_age", Value: c.RestoreAge, UOM: "s", Warn: num(status.RestoreTestInterval.Seconds()), Min: "0"})
	}
	b.WriteString(" |")
	for _, p := range perf {
		b.WriteString(" " + p.String())
	}
	b.WriteString("\n")
	if !single {
		shown := 0
		for _, v := range c.Verdicts {
			if v.State == OK && !c.Narrowed {
				continue
			}
			if shown == MaxLines {
				fmt.Fprintf(&b, "... and %d more\n", c.notOK()-shown)
				break
			}
			fmt.Fprintf(&b, "%s %s: %s\n", v.State, v.Name, Line(v.Why))
			shown++
		}
		if c.Narrowed {
			sep := "| "
			for _, v := range c.Verdicts {
				for _, p := range v.perfs(v.Name + " ") {
					b.WriteString(sep + p.String() + "\n")
					sep = ""
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// counts are the records per state, as performance data.
func (c Check) counts() []Perf {
	n := map[State]int{}
	for _, v := range c.Verdicts {
		n[v.State]++
	}
	total := strconv.Itoa(len(c.Verdicts))
	var ps []Perf
	for _, s := range []State{OK, Warning, Critical, Unknown} {
		ps = append(ps, Perf{Label: strings.ToLower(s.String()), Value: ptr(float64(n[s])), Min: "0", Max: total})
	}
	return ps
}

func (c Check) notOK() int {
	n := 0
	for _, v := range c.Verdicts {
		if v.State != OK {
			n++
		}
	}
	return n
}

// summary is the fleet's line: how many records in each state, the first
// names of each state not OK, and what the restore tests add.
func (c Check) summary() string {
	if len(c.Verdicts) == 0 {
		return "no backups to judge: the store holds no record and none is expected (--config.file, --host)"
	}
	byState := map[State][]string{}
	for _, v := range c.Verdicts {
		byState[v.State] = append(byState[v.State], v.Name)
	}
	what := "backups"
	if len(c.Verdicts) == 1 {
		what = "backup"
	}
	parts := []string{fmt.Sprintf("%d %s: %d critical, %d warning, %d unknown, %d ok", len(c.Verdicts), what,
		len(byState[Critical]), len(byState[Warning]), len(byState[Unknown]), len(byState[OK]))}
	for _, s := range []State{Critical, Warning, Unknown} {
		names := byState[s]
		if len(names) == 0 {
			continue
		}
		more := ""
		if len(names) > maxNames {
			names, more = names[:maxNames], fmt.Sprintf(" and %d more", len(names)-maxNames)
		}
		parts = append(parts, strings.ToLower(s.String())+": "+strings.Join(names, ", ")+more)
	}
	if c.Restore != "" {
		parts = append(parts, c.Restore)
	}
	return Line(strings.Join(parts, "; "))
}

// WriteUnknown writes the check that could not be made: UNKNOWN and why,
// on one line.
func WriteUnknown(w io.Writer, why string) error {
	_, err := fmt.Fprintf(w, "%s %s - %s\n", Prefix, Unknown, Line(why))
	return err
}
