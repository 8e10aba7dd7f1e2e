package collector

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics in the text format, gzipped when the client asks
// (Prometheus does). At 10,000 hosts the snapshot is some 160,000 series:
// gathering, encoding and compressing them at every scrape would cost
// several hundred milliseconds. They change only at a refresh, so they are
// encoded and compressed once per snapshot; at each scrape only the ages
// (which must move with the clock, and are encoded once too, without
// their values; see ages) and the extra collectors (build info, Go,
// process) are gathered. The client library encodes every family and
// escapes every label value, here as in promhttp.
//
// Beyond the compressed cache (some 0.6 MB at 10,000 hosts), what encoding
// and scraping take does not grow with the fleet: families are gathered
// in batches of batchSize series (gathering all 160,000 at once took over
// 100 MB for a moment), the text is compressed as it is encoded and only
// the compressed form is kept (a client that does not ask for gzip gets it
// inflated on the fly), and a scrape writes straight to the client with a
// pooled compressor, buffering nothing the size of the answer.
type Handler struct {
	c     *Collector
	extra prometheus.Gatherer
	log   *slog.Logger

	// The snapshot's families by how they are encoded (blocks.go): all of
	// them in order, those with a host label, the others; and the age
	// families with a host label.
	snapFams, hostFams, fleetFams, hostAgeFams []*prometheus.Desc

	// mu guards what follows. It is held while encoding a new snapshot,
	// never while writing to a client, so a slow client cannot hold up a
	// refresh.
	mu            sync.Mutex
	cacheFor      State
	gen           uint64   // the collector's change that cacheFor is (see Collector.changesSince)
	blocks        *blocks  // the host families of cacheFor
	enc           *encoded // nil until the first encoding
	encodedBlocks int      // blocks encoded so far, for the tests
}

// encoded is a snapshot's families in the text format, deflated; it is
// never changed once built, so scrapes read it without a lock.
type encoded struct {
	deflated [][]byte   // pieces, each sync-flushed and not final: more deflate blocks may follow
	size     int        // length of the text
	crc      uint32     // CRC-32 of the text
	ages     []agePiece // nil if they could not be encoded: then gathered at each scrape
}

// NewHandler returns the /metrics handler of c plus the collectors in extra
// (which must not include c). It encodes each new snapshot right after
// the refresh that made it, so no scrape waits for that.
func NewHandler(c *Collector, extra prometheus.Gatherer, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{c: c, extra: extra, log: logger, snapFams: snapshotDescs()}
	h.hostFams, h.fleetFams = splitFamilies(h.snapFams)
	h.hostAgeFams, _ = splitFamilies(ageDescs)
	c.mu.Lock()
	c.afterRefresh = func() { h.cached() }
	c.mu.Unlock()
	return h
}

// funcCollector adapts a collect function; it describes nothing, so a
// registry takes it as unchecked.
type funcCollector func(ch chan<- prometheus.Metric)

func (f funcCollector) Describe(chan<- *prometheus.Desc)    {}
func (f funcCollector) Collect(ch chan<- prometheus.Metric) { f(ch) }

// snapshotDescs are the families that change only with the snapshot.
func snapshotDescs() []*prometheus.Desc {
	return slices.DeleteFunc(slices.Clone(allDescs), func(d *prometheus.Desc) bool { return slices.Contains(ageDescs, d) })
}

// cached returns the collector's current state and its encoded snapshot
// families, encoding them if that state is not the one last encoded: the
// blocks of the hosts changed since (blocks.go), and the exporter's own
// families. The state is read under h.mu, so a scrape that began before a
// refresh never replaces the newer encoding with an older one.
func (h *Handler) cached() (State, *encoded) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, gen, changed, all := h.c.changesSince(h.gen)
	if h.enc != nil && h.cacheFor == st {
		return st, h.enc
	}
	// Let the old encoding, and the snapshot it was of, go before the new
	// one is built; the old blocks too when every block is built anew.
	h.enc, h.cacheFor = nil, State{}
	if all {
		h.blocks = nil
	}
	b, err := h.updateBlocks(h.blocks, st.Snapshot, changed, all)
	if err != nil {
		h.log.Error("encode metrics", "err", err)
	}
	fp, err := h.encodeFleet(st)
	if err != nil {
		h.log.Error("encode metrics", "err", err)
	}
	enc := h.assemble(b, fp)
	if enc.ages, err = h.liveAges(b, st.Snapshot); err != nil {
		enc.ages = nil
		h.log.Error("encode metrics", "err", err)
	}
	h.cacheFor, h.gen, h.blocks, h.enc = st, gen, b, enc
	return st, h.enc
}

// batchSize bounds the series gathered at once: memory for some hundreds
// of kilobytes, whatever the fleet's size.
const batchSize = 1000

// encodeFamily writes the metrics of family d that collect sends, in the
// text format, batchSize at a time (see familyText). Metrics of other
// families are dropped.
func encodeFamily(w io.Writer, d *prometheus.Desc, collect func(ch chan<- prometheus.Metric)) error {
	ch := make(chan prometheus.Metric, 256)
	go func() {
		defer close(ch)
		collect(ch)
	}()
	ft := familyText{w: w, text: getBuffer()}
	defer putBuffer(ft.text)
	batch := make([]prometheus.Metric, 0, batchSize)
	for m := range ch {
		if family(m.Desc()) != d {
			continue
		}
		batch = append(batch, m)
		if len(batch) == batchSize {
			ft.write(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	ft.write(batch)
	return ft.failure
}

// encodeMetrics writes ms, metrics of one family, in the text format,
// batchSize at a time (see familyText).
func encodeMetrics(w io.Writer, ms []prometheus.Metric) error {
	ft := familyText{w: w, text: getBuffer()}
	defer putBuffer(ft.text)
	for len(ms) > 0 {
		n := min(len(ms), batchSize)
		ft.write(ms[:n])
		ms = ms[n:]
	}
	return ft.failure
}

// familyText writes one family in the text format, a batch of its
// metrics at a time: each batch is gathered by a registry of its own
// (which checks and sorts it, as for a whole scrape) and only the first
// batch's output keeps the HELP and TYPE lines, so the family reads as
// one.
type familyText struct {
	w       io.Writer
	text    *bytes.Buffer // scratch
	written bool          // the HELP and TYPE lines are
	failure error         // the first
}

func (f *familyText) write(batch []prometheus.Metric) {
	if len(batch) == 0 {
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(funcCollector(func(ch chan<- prometheus.Metric) {
		for _, m := range batch {
			ch <- m
		}
	}))
	// As promhttp.ContinueOnError: encode what could be gathered.
	mfs, err := reg.Gather()
	for _, mf := range mfs {
		f.text.Reset()
		if _, eerr := expfmt.MetricFamilyToText(f.text, mf); eerr != nil && err == nil {
			err = eerr
		}
		b := f.text.Bytes()
		if f.written {
			// The family's HELP and TYPE lines were written with the
			// first batch; a sample line never starts with '#'.
			for bytes.HasPrefix(b, []byte("#")) {
				_, b, _ = bytes.Cut(b, []byte("\n"))
			}
		}
		if _, werr := f.w.Write(b); werr != nil && err == nil {
			err = werr
		}
		f.written = true
	}
	if err != nil && f.failure == nil {
		f.failure = err
	}
}

// encode writes what g gathers in the text format.
func encode(w io.Writer, g prometheus.Gatherer) error {
	mfs, err := g.Gather()
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if eerr := enc.Encode(mf); eerr != nil && err == nil {
			err = eerr
		}
	}
	return err
}

// writeLive writes what changes at each scrape: the ages as of now, and
// the extra collectors.
func (h *Handler) writeLive(w io.Writer, st State, enc *encoded) {
	now := h.c.now()
	if enc.ages != nil {
		for _, p := range enc.ages {
			p.a.write(w, now, p.header)
		}
	} else {
		// They could not be encoded ahead (logged then): gathered now.
		for _, d := range ageDescs {
			if err := encodeFamily(w, d, func(ch chan<- prometheus.Metric) { collectAges(ch, st.Snapshot, now, d) }); err != nil {
				h.log.Error("gather metrics", "err", err)
			}
		}
	}
	if h.extra != nil {
		if err := encode(w, h.extra); err != nil {
			// As promhttp.ContinueOnError: serve what could be gathered.
			h.log.Error("gather metrics", "err", err)
		}
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st, enc := h.cached()

	hd := w.Header()
	hd.Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	hd.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r) {
		zr := getInflater(enc.deflated)
		io.Copy(w, zr)
		putInflater(zr)
		h.writeLive(w, st, enc)
		return
	}
	// One gzip member: the cached deflate blocks, then the live ones from
	// a fresh compressor (which never refers back into the cached part),
	// then the CRC-32 and length of the whole text.
	hd.Set("Content-Encoding", "gzip")
	w.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}) // gzip header: deflate, no name, no mtime, unknown OS
	for _, p := range enc.deflated {
		w.Write(p)
	}
	fw := getDeflater(w)
	t := &textSum{w: fw, n: enc.size, crc: enc.crc}
	h.writeLive(t, st, enc)
	fw.Close()
	putDeflater(fw)
	w.Write(binary.LittleEndian.AppendUint32(nil, t.crc))
	w.Write(binary.LittleEndian.AppendUint32(nil, uint32(t.n)))
}

// textSum passes text on to w, counting its bytes and its CRC-32 for the
// gzip trailer.
type textSum struct {
	w   io.Writer
	n   int
	crc uint32
}

func (t *textSum) Write(p []byte) (int, error) {
	t.n += len(p)
	t.crc = crc32.Update(t.crc, crc32.IEEETable, p)
	return t.w.Write(p)
}

// Scratch buffers for the text of a batch or a block, and for a piece
// before it is cloned: reused, as growing new ones for each of some 10,000
// pieces per 10,000 hosts was a fifth of what a refresh allocated.
var buffers sync.Pool

func getBuffer() *bytes.Buffer {
	if b, ok := buffers.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // an unusually large one is let go
		buffers.Put(b)
	}
}

// Compressors and decompressors hold some hundreds of kilobytes of state
// each: they are reused rather than made per scrape.
var deflaters, inflaters sync.Pool

func getDeflater(w io.Writer) *flate.Writer {
	if fw, ok := deflaters.Get().(*flate.Writer); ok {
		fw.Reset(w)
		return fw
	}
	fw, _ := flate.NewWriter(w, flate.BestSpeed) // only fails for a bad level
	return fw
}

func putDeflater(fw *flate.Writer) {
	fw.Reset(io.Discard) // drop the reference to the client
	deflaters.Put(fw)
}

// finalBlock is an empty, final deflate block (fixed Huffman codes): it
// ends a sync-flushed stream, so that it can be inflated by itself.
var finalBlock = []byte{0x03, 0x00}

func getInflater(deflated [][]byte) io.ReadCloser {
	rs := make([]io.Reader, 0, len(deflated)+1)
	for _, p := range deflated {
		rs = append(rs, bytes.NewReader(p))
	}
	src := io.MultiReader(append(rs, bytes.NewReader(finalBlock))...)
	if zr, ok := inflaters.Get().(io.ReadCloser); ok {
		if zr.(flate.Resetter).Reset(src, nil) == nil {
			return zr
		}
	}
	return flate.NewReader(src)
}

func putInflater(zr io.ReadCloser) {
	zr.(flate.Resetter).Reset(bytes.NewReader(finalBlock), nil) // drop the reference to the snapshot
	inflaters.Put(zr)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
