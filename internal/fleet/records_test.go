package fleet

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"pgregory.net/rapid"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestRecordsLikeSlice: a list of records held in shared blocks behaves as
// the sorted slice it replaced, over random sets, inserts and deletes: each
// version reads as its slice does, and every earlier version still reads
// as it did when it was made (what a scrape of the previous snapshot sees
// while a nudge publishes the next).
func TestRecordsLikeSlice(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 3*blockSize).Draw(t, "n")
		var want []status.Record
		for i := range n {
			want = append(want, status.Record{Host: fmt.Sprintf("h%05d", 2*i), Status: status.Success})
		}
		l := RecordsOf(slices.Clone(want)...)
		type version struct {
			l    Records
			want []status.Record
		}
		var versions []version
		for step := range rapid.IntRange(1, 40).Draw(t, "steps") {
			versions = append(versions, version{l, slices.Clone(want)})
			switch op := rapid.IntRange(0, 2).Draw(t, "op"); {
			case op == 0 && len(want) > 0: // a nudge's new value
				i := rapid.IntRange(0, len(want)-1).Draw(t, "set")
				r := want[i]
				r.Status, r.Message = status.Failed, fmt.Sprint("step ", step)
				want[i] = r
				l = l.Set(i, r)
			case op == 1: // a new host, a host's first job
				h := fmt.Sprintf("h%05d", rapid.IntRange(0, 2*n+2*blockSize).Draw(t, "host"))
				id := status.JobID{Host: h, Job: rapid.SampledFrom([]string{"", "pg"}).Draw(t, "job")}
				i, found := slices.BinarySearchFunc(want, id, compareRecord)
				if found {
					continue
				}
				r := status.Record{Host: id.Host, Job: id.Job, Status: status.Unknown}
				if j, f := l.Search(id); j != i || f {
					t.Fatalf("search %v before inserting: %d %v, want %d false", id, j, f, i)
				}
				want = slices.Insert(want, i, r)
				l = l.Insert(i, r)
			case op == 2 && len(want) > 0: // a host that now reports through jobs
				i := rapid.IntRange(0, len(want)-1).Draw(t, "delete")
				want = slices.Delete(want, i, i+1)
				l = l.Delete(i)
			}
		}
		versions = append(versions, version{l, want})
		for v, ver := range versions {
			if got := ver.l.Slice(); !slices.EqualFunc(got, ver.want, sameRecord) || ver.l.Len() != len(ver.want) {
				t.Fatalf("version %d reads %d records %v, want %d %v", v, ver.l.Len(), names(got), len(ver.want), names(ver.want))
			}
			for i, r := range ver.l.All() {
				if !sameRecord(*r, ver.want[i]) || !sameRecord(*ver.l.At(i), ver.want[i]) {
					t.Fatalf("version %d: record %d is %s, want %s", v, i, r.Host, ver.want[i].Host)
				}
				if j, found := ver.l.Search(status.JobID{Host: r.Host, Job: r.Job}); !found || j != i {
					t.Fatalf("version %d: search %s/%s = %d %v, want %d", v, r.Host, r.Job, j, found, i)
				}
			}
			if len(ver.want) > 0 {
				lo := rapid.IntRange(0, len(ver.want)).Draw(t, "lo")
				hi := rapid.IntRange(lo, len(ver.want)).Draw(t, "hi")
				if got := ver.l.Range(lo, hi).Slice(); !slices.EqualFunc(got, ver.want[lo:hi], sameRecord) {
					t.Fatalf("version %d: range %d-%d reads %v, want %v", v, lo, hi, names(got), names(ver.want[lo:hi]))
				}
			}
		}
	})
}

func sameRecord(a, b status.Record) bool {
	return a.Host == b.Host && a.Job == b.Job && a.Status == b.Status && a.Message == b.Message
}

func names(rs []status.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Host+"/"+r.Job)
	}
	return out
}

// TestRereadSharesBlocks: a nudge's snapshot shares every block of records
// but the one holding the host it read, and the snapshot before it is
// unchanged (so scrapes reading it meanwhile see it whole).
func TestRereadSharesBlocks(t *testing.T) {
	src := mapSource{}
	const n = 10 * blockSize
	for i := range n {
		src[fmt.Sprintf("h%05d", i)] = map[string]any{"status": "success", "last_success": "2026-11-25T02:00:00+00:00"}
	}
	prev := Load(context.Background(), src, Options{}, nil)
	if prev.Err != nil || prev.Hosts.Len() != n {
		t.Fatalf("load: %v, %d hosts", prev.Err, prev.Hosts.Len())
	}
	before := prev.Hosts.Slice()
	src["h00300"] = map[string]any{"status": "failed", "last_success": "2026-11-25T02:00:00+00:00"}
	snap, err := Reread(context.Background(), src, Options{}, prev, []status.JobID{{Host: "h00300"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Hosts.At(300).Status; got != status.Failed {
		t.Errorf("nudged host's status %q, want failed", got)
	}
	if !slices.EqualFunc(prev.Hosts.Slice(), before, sameRecord) {
		t.Errorf("the snapshot before the nudge changed")
	}
	copied := 0
	for b := range snap.Hosts.blocks {
		if &snap.Hosts.blocks[b][0] != &prev.Hosts.blocks[b][0] {
			copied++
		}
	}
	if copied != 1 {
		t.Errorf("the nudge copied %d blocks of %d, want 1", copied, len(snap.Hosts.blocks))
	}
}

// TestRereadCostsTheHost: a nudge's reread allocates about a block of
// records, not the fleet's list (at 100,000 hosts that was 47 MB a nudge).
func TestRereadCostsTheHost(t *testing.T) {
	src := mapSource{}
	const n = 40 * blockSize
	for i := range n {
		src[fmt.Sprintf("h%05d", i)] = map[string]any{"status": "success", "last_success": "2026-11-25T02:00:00+00:00"}
	}
	snap := Load(context.Background(), src, Options{}, nil)
	var m0, m1 runtime.MemStats
	const nudges = 10
	runtime.ReadMemStats(&m0)
	for i := range nudges {
		h := fmt.Sprintf("h%05d", i*997%n)
		src[h] = map[string]any{"status": "failed", "last_success": "2026-11-25T02:00:00+00:00"}
		var err error
		if snap, err = Reread(context.Background(), src, Options{}, snap, []status.JobID{{Host: h}}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	perNudge := (m1.TotalAlloc - m0.TotalAlloc) / nudges
	fleetList := uint64(n) * uint64(unsafe.Sizeof(status.Record{}))
	if limit := 4 * uint64(blockSize) * uint64(unsafe.Sizeof(status.Record{})); perNudge > limit {
		t.Errorf("a nudge at %d hosts allocated %d bytes, want at most %d (4 blocks; the fleet's list is %d)", n, perNudge, limit, fleetList)
	}
}

// mapSource is a store in memory, for a fleet larger than a test should
// write to disk.
type mapSource map[string]map[string]any

func (m mapSource) List(context.Context) ([]string, error) {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys, nil
}

func (m mapSource) Get(_ context.Context, key string) (map[string]any, error) {
	if d, ok := m[key]; ok {
		return d, nil
	}
	return nil, status.ErrNotFound
}

// TestRefreshSharesUnchanged: a full refresh that reads a block of records
// exactly as the previous snapshot holds it keeps the previous block, so
// that an unchanged fleet is not held twice while the new snapshot is
// made; a changed record's block is its own. Also after a restart: the
// saved snapshot's times (decoded from JSON) are the same instants as the
// store's.
func TestRefreshSharesUnchanged(t *testing.T) {
	src := mapSource{}
	const n = 10*blockSize + 7
	for i := range n {
		src[fmt.Sprintf("h%05d", i)] = map[string]any{"status": "success", "last_success": "2026-11-25T02:00:00+00:00", "exit_code": "0", "message": "ok"}
	}
	src[status.JobsFolder+"/"] = nil
	shared := func(a, b Records) int {
		k := 0
		for i := range a.blocks {
			if i < len(b.blocks) && &a.blocks[i][0] == &b.blocks[i][0] {
				k++
			}
		}
		return k
	}
	first := Load(context.Background(), src, Options{}, nil)
	second := Load(context.Background(), src, Options{}, first)
	if got, want := shared(second.Hosts, first.Hosts), len(first.Hosts.blocks); got != want {
		t.Errorf("unchanged fleet: %d blocks of %d shared with the previous snapshot", got, want)
	}
	src["h00300"] = map[string]any{"status": "failed", "last_success": "2026-11-25T02:00:00+00:00", "exit_code": "1", "message": "boom"}
	third := Load(context.Background(), src, Options{}, second)
	if got, want := shared(third.Hosts, second.Hosts), len(second.Hosts.blocks)-1; got != want {
		t.Errorf("one record changed: %d blocks of %d shared, want %d", got, len(second.Hosts.blocks), want)
	}
	if i, ok := third.Hosts.Search(status.JobID{Host: "h00300"}); !ok || third.Hosts.At(i).Status != status.Failed {
		t.Errorf("the changed record is not in the new snapshot")
	}
	if !slices.EqualFunc(second.Hosts.Slice(), first.Hosts.Slice(), sameRecord) {
		t.Errorf("the previous snapshot changed")
	}

	path := t.TempDir() + "/snapshot.json.gz"
	if err := Save(path, "test", third, third.Started); err != nil {
		t.Fatal(err)
	}
	saved, _, err := LoadSaved(path, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	after := Load(context.Background(), src, Options{}, saved)
	if got, want := shared(after.Hosts, saved.Hosts), len(saved.Hosts.blocks); got != want {
		t.Errorf("first refresh after a restart: %d blocks of %d shared with the saved snapshot", got, want)
	}
}
