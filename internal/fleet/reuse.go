package fleet

import (
	"reflect"
	"sync/atomic"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// A full refresh reads every record again, and most read as they did: the
// new snapshot would hold a second copy of the fleet beside the previous
// one (which scrapes, pages and nudges still read) until it is published.
// So a refresh reads into blocks as the list will hold them, and keeps
// the previous snapshot's block in place of one that reads exactly as it.

// filling is the records of a refresh as they are read: the hosts' and
// then the jobs' (one index space, as Load reads them), in blocks of
// blockSize, each replaced by prev's block as soon as it is complete and
// reads exactly as that block does.
type filling struct {
	hosts, n int
	blocks   [][]status.Record
	left     []atomic.Int32 // records of each block still to read
}

func newFilling(hosts, n int) *filling {
	hb := (hosts + blockSize - 1) / blockSize
	nb := hb + (n-hosts+blockSize-1)/blockSize
	return &filling{hosts: hosts, n: n, blocks: make([][]status.Record, nb), left: make([]atomic.Int32, nb)}
}

// locate is the block of record i, its index in it and the block's size.
func (f *filling) locate(i int) (b, k, size int) {
	if i < f.hosts {
		b, k = i/blockSize, i%blockSize
		return b, k, min(blockSize, f.hosts-(i-k))
	}
	hb := (f.hosts + blockSize - 1) / blockSize
	j := i - f.hosts
	b, k = hb+j/blockSize, j%blockSize
	return b, k, min(blockSize, f.n-(i-k))
}

// start makes the block of record i before i is handed to a reader: the
// block is made by the one goroutine that hands them out, when its first
// record is, so the whole fleet's blocks never exist at once.
func (f *filling) start(i int) {
	if b, k, size := f.locate(i); k == 0 {
		f.blocks[b] = make([]status.Record, size)
		f.left[b].Store(int32(size))
	}
}

// at is where record i is read into.
func (f *filling) at(i int) *status.Record {
	b, k, _ := f.locate(i)
	return &f.blocks[b][k]
}

// done marks record i read; the reader of a block's last record swaps the
// block for prev's when they read the same.
func (f *filling) done(i int, prev *Snapshot) {
	b, _, _ := f.locate(i)
	if f.left[b].Add(-1) != 0 || prev == nil {
		return
	}
	blk := f.blocks[b]
	list := prev.Hosts
	if i >= f.hosts {
		list = prev.Jobs
	}
	pi, found := list.Search(status.JobID{Host: blk[0].Host, Job: blk[0].Job})
	if !found {
		return
	}
	pb, pk := list.locate(pi)
	if old := list.blocks[pb]; pk == 0 && len(old) == len(blk) && same(reflect.ValueOf(old), reflect.ValueOf(blk)) {
		f.blocks[b] = old
	}
}

var timeType = reflect.TypeFor[time.Time]()

// same reports whether a and b hold the same values, as reflect.DeepEqual
// does, but with times equal when they are the same instant (Equal): a
// time read from the store and the same one read from a saved snapshot
// differ in their location's pointer (UTC as Local or as nil) and in
// nothing that is exported. Functions are the same only when both are nil.
func same(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == timeType && a.CanInterface() && b.CanInterface() {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		if a.Kind() == reflect.Pointer && a.Pointer() == b.Pointer() {
			return true
		}
		return same(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !same(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && (a.IsNil() != b.IsNil()) || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !same(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !same(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return a.IsNil() && b.IsNil()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.Complex64, reflect.Complex128:
		return a.Complex() == b.Complex()
	}
	return false
}

// lists are the hosts' and the jobs' records, once every one is read.
func (f *filling) lists() (hosts, jobs Records) {
	hb := (f.hosts + blockSize - 1) / blockSize
	return recordsOfBlocks(f.blocks[:hb]), recordsOfBlocks(f.blocks[hb:])
}
