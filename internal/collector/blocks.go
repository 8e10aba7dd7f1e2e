package collector

import (
	"bytes"
	"hash/crc32"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// A nudge changes one host, and at 100,000 hosts encoding the whole fleet
// again took some ten seconds of a busy 2-core machine: the nudge's value
// reached /metrics that much later. So the families with a host label are
// encoded a block of hosts at a time, each block's text of each family
// deflated by itself (a fresh compressor, sync-flushed: such pieces
// concatenate into one valid deflate stream, as pigz's do), and a nudge
// encodes again only the blocks of the hosts it changed, plus the
// exporter's own families (a few series). A full refresh encodes every
// block, with new bounds.

// hostsPerBlock is how many hosts a block holds when the bounds are set:
// small enough that encoding one is a few milliseconds, large enough that
// each family's piece compresses well.
const hostsPerBlock = 256

// piece is some text of the exposition, deflated by itself.
type piece struct {
	deflated []byte
	size     int    // length of the text
	crc      uint32 // CRC-32 of the text
}

// hostBlock is what the hosts of one block export.
type hostBlock struct {
	fams []piece // by hostFamilies, the HELP and TYPE lines left out
	ages []*ages // by hostAgeFamilies, the HELP and TYPE lines kept (see ages.hdr)
}

// blocks is the encoded host families of a snapshot.
type blocks struct {
	bounds  []string // bounds[i] is the first host of block i; bounds[0] is ""
	blocks  []*hostBlock
	headers map[*prometheus.Desc][]byte // each host family's HELP and TYPE lines, once seen
}

// isHostFamily reports whether d's series carry a host label: those are
// encoded per block, the others whole.
func isHostFamily(d *prometheus.Desc) bool {
	m := descRE.FindStringSubmatch(d.String())
	return m != nil && slices.Contains(strings.Split(m[3], ","), "host")
}

// splitFamilies splits ds into the host families and the others, each in
// the order of ds.
func splitFamilies(ds []*prometheus.Desc) (host, other []*prometheus.Desc) {
	for _, d := range ds {
		if isHostFamily(d) {
			host = append(host, d)
		} else {
			other = append(other, d)
		}
	}
	return host, other
}

// newBounds sets the blocks' bounds: every hostsPerBlock-th host of snap.
func newBounds(snap *fleet.Snapshot) []string {
	hs := hostsOf(snap)
	slices.Sort(hs)
	hs = slices.Compact(hs)
	bounds := []string{""}
	for i := hostsPerBlock; i < len(hs); i += hostsPerBlock {
		bounds = append(bounds, hs[i])
	}
	return bounds
}

// blockOf is the block that holds host.
func (b *blocks) blockOf(host string) int {
	return sort.SearchStrings(b.bounds, host+"\x00") - 1 // the last bound <= host
}

// subSnapshot is what snap holds of block i's hosts; it lists no restore
// test and is not Listed, so that only host series come out of it.
func (b *blocks) subSnapshot(snap *fleet.Snapshot, i int) *fleet.Snapshot {
	lo, hi := b.bounds[i], ""
	if i+1 < len(b.bounds) {
		hi = b.bounds[i+1]
	}
	in := func(n int, host func(int) string) (int, int) {
		from := sort.Search(n, func(k int) bool { return host(k) >= lo })
		to := n
		if hi != "" {
			to = sort.Search(n, func(k int) bool { return host(k) >= hi })
		}
		return from, to
	}
	sub := &fleet.Snapshot{Started: snap.Started}
	f, t := in(snap.Hosts.Len(), func(k int) string { return snap.Hosts.At(k).Host })
	sub.Hosts = snap.Hosts.Range(f, t)
	f, t = in(snap.Jobs.Len(), func(k int) string { return snap.Jobs.At(k).Host })
	sub.Jobs = snap.Jobs.Range(f, t)
	f, t = in(len(snap.Pauses), func(k int) string { return snap.Pauses[k].Host })
	sub.Pauses = snap.Pauses[f:t]
	return sub
}

// encodeBlock encodes block i of snap. Its hosts' series are collected
// once, each to its family's list, and then encoded a family at a time:
// collecting them once per family, as encodeFamily does, built every
// family's metrics (label slices, closures) for each of some 25 families.
func (h *Handler) encodeBlock(b *blocks, snap *fleet.Snapshot, i int) (*hostBlock, error) {
	sub := b.subSnapshot(snap, i)
	byFam := make(map[*prometheus.Desc][]prometheus.Metric, len(h.hostFams))
	collectHosts(hostGauge(func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		f := family(d) // a job's series is in its host family (see jobs.go)
		byFam[f] = append(byFam[f], prometheus.MustNewConstMetric(d, t, v, labels...))
	}, h.c.opts.HostSeries), sub, h.c.opts.Labels, h.c.opts.Escalation)
	hb := &hostBlock{fams: make([]piece, 0, len(h.hostFams))}
	var failure error
	text := getBuffer()
	defer putBuffer(text)
	for _, d := range h.hostFams {
		text.Reset()
		if err := encodeMetrics(text, byFam[d]); err != nil && failure == nil {
			failure = err
		}
		delete(byFam, d) // garbage as soon as it is encoded
		body := text.Bytes()
		hdr := body
		for bytes.HasPrefix(body, []byte("#")) {
			_, body, _ = bytes.Cut(body, []byte("\n"))
		}
		if hdr = hdr[:len(hdr)-len(body)]; len(hdr) > 0 && b.headers[d] == nil {
			b.headers[d] = bytes.Clone(hdr)
		}
		hb.fams = append(hb.fams, deflatePiece(body))
	}
	for _, d := range h.hostAgeFams {
		a := &ages{}
		if err := a.addFamily(sub, d); err != nil {
			return nil, err
		}
		hb.ages = append(hb.ages, a)
	}
	return hb, failure
}

// deflatePiece deflates text by itself; nothing for no text.
func deflatePiece(text []byte) piece {
	if len(text) == 0 {
		return piece{}
	}
	z := getBuffer()
	defer putBuffer(z)
	fw := getDeflater(z)
	fw.Write(text)
	fw.Flush() // byte-aligned and not final: more pieces follow
	putDeflater(fw)
	return piece{deflated: bytes.Clone(z.Bytes()), size: len(text), crc: crc32.ChecksumIEEE(text)}
}

// update encodes the blocks of snap: every block when all is set or none
// is encoded yet, else those of the hosts in changed, reusing the others.
// The result shares unchanged blocks with b, which it never modifies.
func (h *Handler) updateBlocks(b *blocks, snap *fleet.Snapshot, changed map[string]bool, all bool) (*blocks, error) {
	if b == nil || all || snap == nil {
		nb := &blocks{headers: map[*prometheus.Desc][]byte{}}
		if snap == nil {
			return nb, nil
		}
		nb.bounds = newBounds(snap)
		nb.blocks = make([]*hostBlock, len(nb.bounds))
		var failure error
		for i := range nb.bounds {
			hb, err := h.encodeBlock(nb, snap, i)
			if err != nil && failure == nil {
				failure = err
			}
			nb.blocks[i] = hb
		}
		h.encodedBlocks += len(nb.bounds)
		return nb, failure
	}
	nb := &blocks{bounds: b.bounds, blocks: slices.Clone(b.blocks), headers: b.headers}
	dirty := map[int]bool{}
	for host := range changed {
		dirty[nb.blockOf(host)] = true
	}
	var failure error
	for i := range dirty {
		hb, err := h.encodeBlock(nb, snap, i)
		if err != nil && failure == nil {
			failure = err
		}
		nb.blocks[i] = hb
	}
	h.encodedBlocks += len(dirty)
	return nb, failure
}

// assemble is the exposition's cached part: for each family of fams in
// turn, its blocks' pieces (host families, after their header) or its
// piece in fleet.
func (h *Handler) assemble(b *blocks, fleetPieces map[*prometheus.Desc]piece) *encoded {
	enc := &encoded{}
	add := func(p piece) {
		if p.size == 0 {
			return
		}
		enc.deflated = append(enc.deflated, p.deflated)
		enc.crc = crc32Combine(enc.crc, p.crc, int64(p.size))
		enc.size += p.size
	}
	for _, d := range h.snapFams {
		p, ok := fleetPieces[d]
		if ok {
			add(p)
			continue
		}
		k := slices.Index(h.hostFams, d)
		header := true
		for _, hb := range b.blocks {
			if hb.fams[k].size == 0 {
				continue
			}
			if header {
				add(deflatePiece(b.headers[d]))
				header = false
			}
			add(hb.fams[k])
		}
	}
	return enc
}

// liveAges lists the age series to write at each scrape, in family order.
func (h *Handler) liveAges(b *blocks, snap *fleet.Snapshot) ([]agePiece, error) {
	var out []agePiece
	for _, d := range ageDescs {
		k := slices.Index(h.hostAgeFams, d)
		if k < 0 {
			fleetOnly := fleetSnapshot(snap)
			a := &ages{}
			if err := a.addFamily(fleetOnly, d); err != nil {
				return nil, err
			}
			out = append(out, agePiece{a, true})
			continue
		}
		header := true
		for _, hb := range b.blocks {
			if len(hb.ages[k].parts) == 0 {
				continue
			}
			out = append(out, agePiece{hb.ages[k], header})
			header = false
		}
	}
	return out, nil
}

// agePiece is one block's (or the fleet's) series of an age family.
type agePiece struct {
	a      *ages
	header bool // write the HELP and TYPE lines: the family's first piece
}

// fleetSnapshot is snap without its hosts: what only the restore tests
// and the exporter's own series come from.
func fleetSnapshot(snap *fleet.Snapshot) *fleet.Snapshot {
	if snap == nil {
		return nil
	}
	s := *snap
	s.Hosts, s.Jobs, s.Pauses = fleet.Records{}, fleet.Records{}, nil
	return &s
}

// encodeFleet encodes each family that is not a host family, by itself.
func (h *Handler) encodeFleet(st State) (map[*prometheus.Desc]piece, error) {
	out := map[*prometheus.Desc]piece{}
	var failure error
	var text bytes.Buffer
	for _, d := range h.fleetFams {
		text.Reset()
		if err := encodeFamily(&text, d, func(ch chan<- prometheus.Metric) { collectFleet(sender(ch, d), st) }); err != nil && failure == nil {
			failure = err
		}
		out[d] = deflatePiece(text.Bytes())
	}
	return out, failure
}

// hostsOfIDs are the hosts that records named by ids belong to.
func hostsOfIDs(ids []status.JobID) []string {
	var hs []string
	for _, id := range ids {
		if id.Host != status.RestoreTestKey {
			hs = append(hs, id.Host)
		}
	}
	return hs
}
