package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// targetHistoryRatio is issue 21's bound: the refresh of a fleet whose
// every host has status.HistoryLen entries of history, against the same
// fleet without, at the largest size.
const targetHistoryRatio = 1.1

// historyResult is the refresh timed without the histories, then with.
type historyResult struct {
	hosts, entries      int
	token               string
	fill                time.Duration
	without, with       []time.Duration
	withoutCPU, withCPU []time.Duration
}

// ratio is the median refresh with the histories over the median without,
// by wall clock and by the bench process's CPU time.
func (h *historyResult) ratio() (wall, cpu float64) {
	ratio := func(a, b []time.Duration) float64 {
		if median(b) == 0 {
			return 0
		}
		return float64(median(a)) / float64(median(b))
	}
	return ratio(h.with, h.without), ratio(h.withCPU, h.withoutCPU)
}

// benchHistory times backupwatch's refresh (r) of the fleet as it is,
// writes status.HistoryLen entries of history for every host, as the
// store keeps them on KV v2 (the record's versions, vaultkv's history.go),
// and times it again.
// Not in turns, unlike timeRefreshes: the fleet is another one after the
// writes; the CPU time, which the machine's other load disturbs less, is
// the check on the wall clock.
func benchHistory(ctx context.Context, v *vault, r reader, f *fleetData, runs int) (*historyResult, error) {
	h := &historyResult{hosts: len(f.hosts), entries: status.HistoryLen, token: r.token}
	timeIt := func(wall, cpu *[]time.Duration) error {
		for i := 0; i <= runs; i++ {
			c0 := cpuTime()
			d, err := timed(func() error { return r.bw.run(ctx, f) })
			if err != nil {
				return err
			}
			if i > 0 { // the first warms up
				*wall, *cpu = append(*wall, d), append(*cpu, cpuTime()-c0)
			}
		}
		return nil
	}
	if err := timeIt(&h.without, &h.withoutCPU); err != nil {
		return nil, err
	}
	progress("%d hosts: writing %d entries of history for each", h.hosts, h.entries)
	var err error
	h.fill, err = timed(func() error { return v.fillHistories(ctx, f.hosts) })
	if err != nil {
		return nil, fmt.Errorf("writing the histories: %w", err)
	}
	progress("%d hosts with history: timing backupwatch, %d runs after a warm-up", h.hosts, runs)
	if err := timeIt(&h.with, &h.withCPU); err != nil {
		return nil, err
	}
	return h, nil
}

// historyVersions and keptMarker are vaultkv's: the key's max_versions
// and the custom_metadata saying it was set, as a writer leaves them.
const (
	historyVersions = 3 * status.HistoryLen
	keptMarker      = "backupwatch_history_versions"
)

// historyVersionDocs are the versions host i's record is written as, the
// last one the record as the fleet has it (record): before it, a run a
// day, one in ten failed, each version describing its result
// (status.RecordEntry), as KV v2 keeps the history.
func historyVersionDocs(i int, now time.Time) []map[string]any {
	cur, _ := record(i, now)
	docs := make([]map[string]any, 0, status.HistoryLen)
	for k := status.HistoryLen - 1; k >= 1; k-- {
		code, d := int64(0), 312.5+float64(k)
		res := status.Result{Outcome: status.Success, At: now.Add(-time.Duration(k) * 24 * time.Hour), ExitCode: &code, Duration: &d,
			Extra: map[string]string{status.FieldFilesProcessed: "120000", status.FieldBytesProcessed: "52000000000"}}
		if k%10 == 3 {
			code = 1
			res.Outcome, res.Message = status.Failed, "Fatal: unable to open repository at sftp:backup@storage-1:/srv/restic: connection refused"
		}
		var doc map[string]any
		if len(docs) > 0 {
			doc = docs[len(docs)-1]
		}
		doc, _ = status.Apply(doc, res)
		delete(doc, status.FieldHistory) // the store keeps it out of the record
		docs = append(docs, doc)
	}
	return append(docs, cur)
}

// fillHistories writes every host's history, fillWriters at once: the
// key's max_versions, then the record's earlier versions and the record.
func (v *vault) fillHistories(ctx context.Context, hosts []string) error {
	now := time.Now()
	work := make(chan int)
	errs := make(chan error, fillWriters)
	var wg sync.WaitGroup
	for range fillWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				meta := map[string]any{"max_versions": historyVersions, "custom_metadata": map[string]any{keptMarker: fmt.Sprint(historyVersions)}}
				err := v.call(ctx, v.rootToken, "POST", mount+"/metadata/"+prefix+"/"+url.PathEscape(hosts[i]), meta, nil)
				for _, doc := range historyVersionDocs(i, now) {
					if err != nil {
						break
					}
					err = v.call(ctx, v.rootToken, "PUT", mount+"/data/"+prefix+"/"+url.PathEscape(hosts[i]), map[string]any{"data": doc}, nil)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range hosts {
		select {
		case work <- i:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err != nil {
		return err
	}
	return <-errs
}

// print writes the history's table; miss is set when the bound is missed.
func (h *historyResult) print(w io.Writer) (miss string) {
	wall, cpu := h.ratio()
	fmt.Fprintf(w, "Run history (issue 21): backupwatch's refresh at %d hosts (%s token), without history, then with %d entries for each host\n", h.hosts, h.token, h.entries)
	fmt.Fprintf(w, "(written in %s); medians of %d runs after a warm-up each; target ≤ %.2f×.\n", fmtDur(h.fill), len(h.with), targetHistoryRatio)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\twithout history\twith history\twith/without")
	fmt.Fprintf(tw, "wall clock\t%s\t%s\t%.2f×\n", fmtDur(median(h.without)), fmtDur(median(h.with)), wall)
	fmt.Fprintf(tw, "CPU time\t%s\t%s\t%.2f×\n", fmtDur(median(h.withoutCPU)), fmtDur(median(h.withCPU)), cpu)
	tw.Flush()
	fmt.Fprintln(w)
	if wall > targetHistoryRatio {
		return fmt.Sprintf("refresh with history at %d hosts is %.2f× the one without", h.hosts, wall)
	}
	return ""
}
