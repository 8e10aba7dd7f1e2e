package collector

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// ages is a snapshot's age families (ageDescs) encoded once, in the text
// format, without their values: at each scrape only the values are
// computed and written. Gathering and encoding 10,000 ages at every scrape
// made some 7 MB of garbage each, which ten scrapers at once turned into
// tens of megabytes of heap.
type ages struct {
	// text is, for each series in turn, what precedes its value: the
	// family's HELP and TYPE lines before its first series, then the
	// series' name and labels and a space.
	text  []byte
	parts []agePart
	hdr   int // text[:hdr] is the HELP and TYPE lines (one family's ages)
}

type agePart struct {
	end int       // text[end of the previous part:end] precedes the value
	t   time.Time // the value is the age of t (see Age)
}

// addFamily encodes family d, batchSize series at a time, in the order
// eachAge gives them, each series on one line (label values are escaped).
func (a *ages) addFamily(snap *fleet.Snapshot, d *prometheus.Desc) error {
	var (
		shell   *dto.MetricFamily // the family's name, help and type
		metrics []*dto.Metric
		times   []time.Time
		text    bytes.Buffer
		first   = true
		failure error
	)
	flush := func() {
		if len(metrics) == 0 || failure != nil {
			return
		}
		mf := &dto.MetricFamily{Name: shell.Name, Help: shell.Help, Type: shell.Type, Metric: metrics}
		text.Reset()
		if _, err := expfmt.MetricFamilyToText(&text, mf); err != nil {
			failure = err
			return
		}
		i := 0
		for b := text.Bytes(); len(b) > 0; {
			var line []byte
			line, b, _ = bytes.Cut(b, []byte("\n"))
			if bytes.HasPrefix(line, []byte("#")) {
				if first {
					a.text = append(append(a.text, line...), '\n')
					a.hdr = len(a.text)
				}
				continue
			}
			sp := bytes.LastIndexByte(line, ' ')
			if sp < 0 || i == len(times) {
				failure = fmt.Errorf("encode %s: unexpected line %q", shell.GetName(), line)
				return
			}
			a.text = append(a.text, line[:sp+1]...)
			a.parts = append(a.parts, agePart{end: len(a.text), t: times[i]})
			i++
		}
		if i != len(times) {
			failure = fmt.Errorf("encode %s: %d lines for %d series", shell.GetName(), i, len(times))
		}
		first, metrics, times = false, metrics[:0], times[:0]
	}
	eachAge(snap, func(md *prometheus.Desc, t time.Time, labels ...string) {
		if family(md) != d || failure != nil {
			return
		}
		m, err := prometheus.NewConstMetric(md, prometheus.GaugeValue, 0, labels...)
		if err != nil {
			failure = err
			return
		}
		if shell == nil {
			if shell, failure = familyOf(m); failure != nil {
				return
			}
		}
		pb := &dto.Metric{}
		if err := m.Write(pb); err != nil {
			failure = err
			return
		}
		metrics, times = append(metrics, pb), append(times, t)
		if len(metrics) == batchSize {
			flush()
		}
	})
	flush()
	return failure
}

// familyOf is the family of m as a registry gathers it, without its series.
func familyOf(m prometheus.Metric) (*dto.MetricFamily, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(funcCollector(func(ch chan<- prometheus.Metric) { ch <- m }))
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	if len(mfs) != 1 {
		return nil, fmt.Errorf("gathered %d families from one metric", len(mfs))
	}
	mf := mfs[0]
	mf.Metric = nil
	return mf, nil
}

var ageBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// write writes the age series as of now, after the HELP and TYPE lines
// when header is set.
func (a *ages) write(w io.Writer, now time.Time, header bool) error {
	bp := ageBufs.Get().(*[]byte)
	defer ageBufs.Put(bp)
	buf, prev := (*bp)[:0], 0
	if !header {
		prev = a.hdr
	}
	var err error
	for _, p := range a.parts {
		buf = append(buf, a.text[prev:p.end]...)
		// As the client library writes a float (expfmt's writeFloat).
		buf = strconv.AppendFloat(buf, float64(Age(p.t, now)), 'g', -1, 64)
		buf = append(buf, '\n')
		prev = p.end
		if len(buf) >= 60<<10 {
			if _, werr := w.Write(buf); werr != nil && err == nil {
				err = werr
			}
			buf = buf[:0]
		}
	}
	if _, werr := w.Write(buf); werr != nil && err == nil {
		err = werr
	}
	*bp = buf[:0]
	return err
}

// MaxFutureSkew is how far in the future a recorded time may lie and
// still count as established: record's own bound (status.ClockSkew). A
// time beyond it is taken as when the exporter first read it
// (status.Record.ClampFuture), so its age grows from then, and
// backup_clock_ahead_seconds says how far ahead it was; Age only meets one
// in a record read without that (it counts as the epoch, overdue).
const MaxFutureSkew = status.MaxFutureSkew

// Age is the age in seconds of a recorded time t at now, as the runbook's
// script computes it: a time that is not established (zero, or further in
// the future than MaxFutureSkew) counts as the epoch, so it pages as
// overdue.
func Age(t, now time.Time) int64 {
	if t.IsZero() || t.After(now.Add(MaxFutureSkew)) {
		return now.Unix()
	}
	return now.Unix() - t.Unix()
}

// collectAges sends the ages as of now (see Age); only those of family
// only when it is not nil.
func collectAges(ch chan<- prometheus.Metric, snap *fleet.Snapshot, now time.Time, only *prometheus.Desc) {
	send := sender(ch, only)
	eachAge(snap, func(d *prometheus.Desc, t time.Time, labels ...string) {
		send(d, prometheus.GaugeValue, float64(Age(t, now)), labels...)
	})
}

// eachAge calls f with each age series of snap: its family, the recorded
// time it is the age of, and its label values. The handler encodes them
// once per snapshot with it, and only the values at each scrape.
func eachAge(snap *fleet.Snapshot, f func(d *prometheus.Desc, t time.Time, labels ...string)) {
	if snap == nil {
		return
	}
	for _, r := range snap.Hosts.All() {
		if !r.Unread {
			f(lastSuccessAge, r.LastSuccess, hostLabel(r.Host))
		}
	}
	eachJobAge(snap, f)
	if !snap.Listed {
		return // not known to be missing: the store was never reached
	}
	var lastTest time.Time
	if snap.RestoreTest != nil {
		lastTest = snap.RestoreTest.LastTest
	}
	f(restoreTestAge, lastTest)
}
