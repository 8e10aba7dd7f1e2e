package fleet

import (
	"iter"
	"slices"
	"sort"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
)

// A nudge rereads one host's record, and the snapshot it publishes must not
// change the one scrapes and pages are reading: copying the list of
// records for that was 47 MB and some 40 ms of CPU per nudge at 100,000
// hosts, and the garbage behind it. So a list of records is held in blocks
// of at most blockSize records that snapshots share: a nudge copies the
// block that holds its host (and a new host grows one block), never the
// list. A block is never changed once the list holding it is published.

// blockSize is the most records a block holds when a list is cut into
// blocks; a block that grows past twice as many (new hosts) is cut in two.
const blockSize = 256

// Records is a list of records sorted by host and job, held in blocks
// that snapshots share. The zero value is an empty list. The records it
// hands out (At, All) belong to every snapshot that shares their block:
// they must not be changed.
type Records struct {
	blocks [][]status.Record // none empty
	starts []int             // starts[i] is the index of blocks[i]'s first record
	n      int
}

// RecordsOf is a list of rs, which must be sorted by host and job; the
// list keeps rs's records (it does not copy them), so rs must not be
// changed afterwards.
func RecordsOf(rs ...status.Record) Records {
	var l Records
	for i := 0; i < len(rs); i += blockSize {
		j := min(i+blockSize, len(rs))
		l.blocks = append(l.blocks, rs[i:j:j])
		l.starts = append(l.starts, i)
	}
	l.n = len(rs)
	return l
}

// Len is the number of records.
func (l Records) Len() int { return l.n }

// locate is the block holding record i and i's index in it.
func (l Records) locate(i int) (int, int) {
	if i < 0 || i >= l.n {
		panic("fleet.Records: index out of range")
	}
	b := sort.SearchInts(l.starts, i+1) - 1 // the last block starting at or before i
	return b, i - l.starts[b]
}

// At is record i; it must not be changed.
func (l Records) At(i int) *status.Record {
	b, k := l.locate(i)
	return &l.blocks[b][k]
}

// All yields each record with its index, in order; they must not be
// changed.
func (l Records) All() iter.Seq2[int, *status.Record] {
	return func(yield func(int, *status.Record) bool) {
		for b, blk := range l.blocks {
			for k := range blk {
				if !yield(l.starts[b]+k, &blk[k]) {
					return
				}
			}
		}
	}
}

// Slice is a copy of the records, in one slice.
func (l Records) Slice() []status.Record {
	out := make([]status.Record, 0, l.n)
	for _, blk := range l.blocks {
		out = append(out, blk...)
	}
	return out
}

// Search finds id (a host's record when id.Job is empty) by binary search:
// its index and true, or where it would be inserted and false.
func (l Records) Search(id status.JobID) (int, bool) {
	// The first block whose last record is not before id holds it, if any.
	b := sort.Search(len(l.blocks), func(b int) bool {
		blk := l.blocks[b]
		return compareRecord(blk[len(blk)-1], id) >= 0
	})
	if b == len(l.blocks) {
		return l.n, false
	}
	k, found := slices.BinarySearchFunc(l.blocks[b], id, compareRecord)
	return l.starts[b] + k, found
}

// SearchHost is the index of host's first record (of host's own or of its
// first job), or where it would be: the records from there on with that
// host are its records.
func (l Records) SearchHost(host string) int {
	i, _ := l.Search(status.JobID{Host: host})
	return i
}

// Range is the records from lo to hi (excluded), sharing their blocks.
func (l Records) Range(lo, hi int) Records {
	if lo < 0 || hi > l.n || lo > hi {
		panic("fleet.Records: range out of bounds")
	}
	var out Records
	if lo == hi {
		return out
	}
	b, k := l.locate(lo)
	for ; b < len(l.blocks) && out.n < hi-lo; b, k = b+1, 0 {
		blk := l.blocks[b][k:]
		if rest := hi - lo - out.n; len(blk) > rest {
			blk = blk[:rest:rest]
		}
		out.blocks = append(out.blocks, blk)
		out.starts = append(out.starts, out.n)
		out.n += len(blk)
	}
	return out
}

// withBlock is l with block b replaced by blk (none when blk is empty, two
// when it has grown past twice blockSize); l is unchanged.
func (l Records) withBlock(b int, blk []status.Record) Records {
	repl := [][]status.Record{blk}
	switch {
	case len(blk) == 0:
		repl = nil
	case len(blk) > 2*blockSize:
		h := len(blk) / 2
		repl = [][]status.Record{blk[:h:h], blk[h:]}
	}
	out := Records{blocks: slices.Concat(l.blocks[:b], repl, l.blocks[b+1:]), n: l.n - len(l.blocks[b]) + len(blk)}
	out.starts = make([]int, len(out.blocks))
	at := 0
	for i, blk := range out.blocks {
		out.starts[i] = at
		at += len(blk)
	}
	return out
}

// Set is l with record i replaced by r, which must sort where the old one
// did; l is unchanged, and shares all but one block with the result.
func (l Records) Set(i int, r status.Record) Records {
	b, k := l.locate(i)
	blk := slices.Clone(l.blocks[b])
	blk[k] = r
	return l.withBlock(b, blk)
}

// Insert is l with r inserted at i (as Search says); l is unchanged.
func (l Records) Insert(i int, r status.Record) Records {
	if i < 0 || i > l.n {
		panic("fleet.Records: insert out of range")
	}
	if l.n == 0 {
		return RecordsOf(r)
	}
	b, k := 0, 0
	if i == l.n {
		b = len(l.blocks) - 1
		k = len(l.blocks[b])
	} else {
		b, k = l.locate(i)
	}
	blk := make([]status.Record, 0, len(l.blocks[b])+1)
	blk = append(append(append(blk, l.blocks[b][:k]...), r), l.blocks[b][k:]...)
	return l.withBlock(b, blk)
}

// Delete is l without record i; l is unchanged.
func (l Records) Delete(i int) Records {
	b, k := l.locate(i)
	return l.withBlock(b, slices.Delete(slices.Clone(l.blocks[b]), k, k+1))
}

// compareRecord orders records by host, then job.
func compareRecord(r status.Record, id status.JobID) int {
	if c := strings.Compare(r.Host, id.Host); c != 0 {
		return c
	}
	return strings.Compare(r.Job, id.Job)
}

// recordsOfBlocks is the list of the records of bs, in order, none empty.
func recordsOfBlocks(bs [][]status.Record) Records {
	var l Records
	for _, blk := range bs {
		l.blocks = append(l.blocks, blk)
		l.starts = append(l.starts, l.n)
		l.n += len(blk)
	}
	return l
}
