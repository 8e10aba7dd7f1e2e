package collector

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/fleet"
)

// Saved snapshots (Options.SavedFile): serve saves what it exports after
// each full refresh, after nudges (at most every SaveEvery) and when it
// stops, and a restarted serve exports the saved snapshot at once, marked
// (backupwatch_snapshot_from_disk 1) until a refresh reaches the store,
// instead of nothing until its first refresh ends, which at 100,000 hosts
// is two minutes without series for the rules to evaluate: no alert
// fires or resolves because serve restarted. backupwatch_store_up stays
// absent until the first refresh is over, as without a saved snapshot.

// SaveEvery is the least time between two saves for nudges: a save of
// 100,000 hosts is about a second of CPU.
const SaveEvery = 30 * time.Second

var snapshotFromDisk = desc("backupwatch_snapshot_from_disk",
	"1 while the records exported are the snapshot saved before serve's restart (--state.dir), not yet confirmed by a refresh that reached the store; 0 after. Absent when serve saves no snapshot.")

func init() { allDescs = append(allDescs, snapshotFromDisk) }

// LoadSaved makes the saved snapshot, if there is a usable one, what
// scrapes see until the first refresh: serve calls it before it listens,
// so that it never answers without it; Run calls it otherwise. One that
// is unreadable, damaged or of another store is ignored, and said so. Only
// the first call does anything.
func (c *Collector) LoadSaved() {
	if c.saveReq != nil {
		c.loadOnce.Do(c.loadSaved)
	}
}

func (c *Collector) loadSaved() {
	path := c.opts.SavedFile
	t0 := time.Now()
	snap, saved, err := fleet.LoadSaved(path, c.opts.StoreName, c.opts.Schedule)
	switch {
	case errors.Is(err, fleet.ErrNoSaved):
		c.log.Info("no saved snapshot: exporting once the first refresh is over", "path", path)
		return
	case err != nil:
		c.log.Warn("ignoring the saved snapshot: exporting once the first refresh is over", "path", path, "err", err)
		return
	}
	c.mu.Lock()
	if c.snap == nil {
		c.publish(snap, nil, true)
		c.fromDisk = true
		c.savedGen = c.gen
	}
	after := c.afterRefresh
	c.mu.Unlock()
	if after != nil {
		after()
	}
	c.log.Info("exporting the saved snapshot until the first refresh", "path", path, "hosts", snap.Hosts.Len(), "jobs", snap.Jobs.Len(),
		"saved_age", c.now().Sub(saved).Round(time.Second), "load_duration", time.Since(t0).Round(time.Millisecond))
}

// requestSave asks runSaves to save the current snapshot.
func (c *Collector) requestSave() {
	if c.saveReq == nil {
		return
	}
	select {
	case c.saveReq <- struct{}{}:
	default:
	}
}

// runSaves saves the snapshot when asked, at most every SaveEvery, and
// once more when ctx is done.
func (c *Collector) runSaves(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			c.save()
			return
		case <-c.saveReq:
		}
		c.save()
		select {
		case <-ctx.Done():
			c.save()
			return
		case <-time.After(SaveEvery):
		}
	}
}

// save writes the current snapshot, unless it is the one last saved or
// loaded, or the store has never been listed (nothing worth keeping).
func (c *Collector) save() {
	c.mu.RLock()
	snap, gen, saved := c.snap, c.gen, c.savedGen
	c.mu.RUnlock()
	if snap == nil || gen == saved || !snap.Listed {
		return
	}
	t0 := time.Now()
	if err := fleet.Save(c.opts.SavedFile, c.opts.StoreName, snap, c.now()); err != nil {
		c.log.Warn("saving the snapshot failed; a restart exports nothing until its first refresh", "err", err)
		return
	}
	c.mu.Lock()
	c.savedGen = max(c.savedGen, gen)
	c.mu.Unlock()
	c.log.Debug("snapshot saved", "path", c.opts.SavedFile, "hosts", snap.Hosts.Len(), "duration", time.Since(t0))
}

// collectSaved sends whether the records are the saved ones.
func collectSaved(send func(*prometheus.Desc, prometheus.ValueType, float64, ...string), st State) {
	if st.Saving {
		send(snapshotFromDisk, prometheus.GaugeValue, float64(boolInt(st.FromDisk)))
	}
}
