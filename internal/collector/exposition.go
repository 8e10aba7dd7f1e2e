package collector

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"net/http"
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
// (which must move with the clock) and the extra collectors (build info,
// Go, process) are gathered. The client library encodes every family and
// escapes every label value, here as in promhttp.
type Handler struct {
	c     *Collector
	extra prometheus.Gatherer
	log   *slog.Logger

	mu       sync.Mutex // guards what follows
	valid    bool
	cacheFor State
	text     []byte // the snapshot's families, encoded
	deflated []byte // text, deflated and sync-flushed: not final
	crc      uint32 // CRC-32 of text
}

// NewHandler returns the /metrics handler of c plus the collectors in extra
// (which must not include c). It encodes each new snapshot right after
// the refresh that made it, so no scrape waits for that.
func NewHandler(c *Collector, extra prometheus.Gatherer, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{c: c, extra: extra, log: logger}
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
func gather(f funcCollector) (prometheus.Gatherer, error) {
	reg := prometheus.NewRegistry()
	return reg, reg.Register(f)
}

// cached returns the collector's current state and its encoded snapshot
// families, encoding them if that state is not the one last encoded. The
// state is read under h.mu, so a scrape that began before a refresh never
// replaces the newer encoding with an older one.
func (h *Handler) cached() (st State, text, deflated []byte, crc uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st = h.c.State()
	if h.valid && h.cacheFor == st {
		return st, h.text, h.deflated, h.crc
	}
	g, err := gather(func(ch chan<- prometheus.Metric) { collectSnapshot(ch, st) })
	var buf bytes.Buffer
	if err == nil {
		err = encode(&buf, g)
	}
	if err != nil {
		h.log.Error("encode metrics", "err", err)
	}
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	fw.Write(buf.Bytes())
	fw.Flush() // byte-aligned and not final: more deflate blocks may follow
	h.valid, h.cacheFor = true, st
	h.text, h.deflated, h.crc = buf.Bytes(), z.Bytes(), crc32.ChecksumIEEE(buf.Bytes())
	return st, h.text, h.deflated, h.crc
}

func encode(buf *bytes.Buffer, g prometheus.Gatherer) error {
	mfs, err := g.Gather()
	enc := expfmt.NewEncoder(buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if eerr := enc.Encode(mf); eerr != nil && err == nil {
			err = eerr
		}
	}
	return err
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st, text, deflated, crc := h.cached()

	// What changes at each scrape: the ages, and the extra collectors.
	var live bytes.Buffer
	now := h.c.now()
	gs := prometheus.Gatherers{}
	g, err := gather(func(ch chan<- prometheus.Metric) { collectAges(ch, st.Snapshot, now) })
	if err == nil {
		gs = append(gs, g)
	}
	if h.extra != nil {
		gs = append(gs, h.extra)
	}
	if err := encode(&live, gs); err != nil {
		// As promhttp.ContinueOnError: serve what could be gathered.
		h.log.Error("gather metrics", "err", err)
	}

	hd := w.Header()
	hd.Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	hd.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r) {
		w.Write(text)
		w.Write(live.Bytes())
		return
	}
	// One gzip member: the cached deflate blocks, then the live ones from
	// a fresh compressor (which never refers back into the cached part),
	// then the CRC-32 and length of the whole text.
	hd.Set("Content-Encoding", "gzip")
	var z bytes.Buffer
	z.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}) // gzip header: deflate, no name, no mtime, unknown OS
	z.Write(deflated)
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	fw.Write(live.Bytes())
	fw.Close()
	z.Write(binary.LittleEndian.AppendUint32(nil, crc32.Update(crc, crc32.IEEETable, live.Bytes())))
	z.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(text)+live.Len())))
	w.Write(z.Bytes())
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
