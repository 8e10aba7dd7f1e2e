package histories

import (
	"fmt"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/golemtrust/backupwatch/internal/status"
)

// skewStep is the granularity of generated clock offsets.
const skewStep = 5 * time.Second

// lateStep is the granularity of late results' ages.
const lateStep = 2*status.ClockSkew + time.Minute

var (
	hosts = []string{"h1", "h2"}
	jobs  = []string{"", "db"}
)

// step is one event of a history.
type step struct {
	Op      string        // see apply
	Host    string        // whose result, nudge or forget
	Job     string        // "" for the host's own record (forget: the whole host)
	Outcome string        // status.Success, status.Failed, or "" for a run's start
	Skew    time.Duration // the host clock against real time (result, concurrent)
	Age     time.Duration // how much older than the allowance a late result is
	Sched   int           // index in schedules: the schedule a result carries
	Via     int           // which of the two processes delivers
}

// GoString prints the step as regress_test.go holds it.
func (s step) GoString() string {
	var f []string
	add := func(format string, args ...any) { f = append(f, fmt.Sprintf(format, args...)) }
	add("Op: %q", s.Op)
	if s.Host != "" {
		add("Host: %q", s.Host)
	}
	if s.Job != "" {
		add("Job: %q", s.Job)
	}
	if s.Outcome != "" {
		add("Outcome: %q", s.Outcome)
	}
	if s.Skew != 0 {
		add("Skew: %d * time.Second", s.Skew/time.Second)
	}
	if s.Age != 0 {
		add("Age: %d * time.Second", s.Age/time.Second)
	}
	if s.Sched != 0 {
		add("Sched: %d", s.Sched)
	}
	if s.Via != 0 {
		add("Via: %d", s.Via)
	}
	return "{" + strings.Join(f, ", ") + "}"
}

func goSteps(steps []step) string {
	var b strings.Builder
	b.WriteString("[]step{\n")
	for _, s := range steps {
		b.WriteString("\t" + s.GoString() + ",\n")
	}
	b.WriteString("}")
	return b.String()
}

// stepGen generates steps, results most often. For the nudged check it
// leaves out outages, restarts and forget: a nudge lost to an outage or a
// restart waits for the next full refresh by design, and forget does not
// nudge (a forgotten host shows until the next full refresh).
func stepGen(nudged bool) *rapid.Generator[step] {
	ops := []string{
		"result", "result", "result", "result", "result", "result",
		"late", "future", "flush", "concurrent", "dup", "nudge", "refresh", "corrupt",
	}
	if !nudged {
		ops = append(ops, "down", "down", "up", "up", "restart", "forget")
	}
	return rapid.Custom(func(t *rapid.T) step {
		s := step{Op: rapid.SampledFrom(ops).Draw(t, "op")}
		s.Host = rapid.SampledFrom(hosts).Draw(t, "host")
		s.Job = rapid.SampledFrom(jobs).Draw(t, "job")
		s.Via = rapid.IntRange(0, 1).Draw(t, "via")
		switch s.Op {
		case "result", "concurrent":
			s.Outcome = rapid.SampledFrom([]string{status.Success, status.Failed, ""}).Draw(t, "outcome")
			// In steps of 5s: a result handed over a few milliseconds
			// after another is then dated apart by whole seconds, as the
			// store keeps them, whatever the millisecond it happens at.
			lim := int(status.ClockSkew / skewStep)
			s.Skew = time.Duration(rapid.IntRange(-lim, lim).Draw(t, "skew")) * skewStep
			if s.Outcome != "" {
				s.Sched = rapid.IntRange(0, len(schedules)-1).Draw(t, "sched")
			}
		case "late":
			s.Outcome = rapid.SampledFrom([]string{status.Success, status.Failed}).Draw(t, "outcome")
			// Late results lie apart from each other and from the rest by
			// more than the allowance, so that their order is plain
			// whichever way a merge reads times within it.
			s.Age = time.Duration(rapid.IntRange(1, 200).Draw(t, "age")) * lateStep
		}
		return s
	})
}
