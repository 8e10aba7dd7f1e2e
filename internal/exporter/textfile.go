package exporter

import (
	"bytes"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/expfmt"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
)

// WriteTextfile writes c's metrics to path for node_exporter's textfile
// collector, atomically: a reader sees the old file or the new, and an
// error leaves the old one as it was (its age shows the data is stale).
func WriteTextfile(path string, c prometheus.Collector, logger *slog.Logger) error {
	reg := prometheus.NewRegistry()
	// No Go or process metrics: node_exporter has its own, and the textfile
	// collector refuses a family that it already exports.
	reg.MustRegister(c, versioncollector.NewCollector("backupwatch"))
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("%s not written: %w", path, err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("%s not written: %w", path, err)
		}
	}
	// What a run killed during its write left behind.
	for _, m := range atomicfile.RemoveStale(path, time.Minute) {
		logger.Info("removed a temporary file left by an interrupted run", "file", m)
	}
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
