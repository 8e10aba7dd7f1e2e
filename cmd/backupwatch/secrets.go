package main

import (
	"log/slog"

	"github.com/golemtrust/backupwatch/internal/backuprun"
)

// withScrubber is g with a logger that passes backupwatch's own lines
// through sc, for the commands that run programs and so know their
// secrets.
func (g *globals) withScrubber(sc *backuprun.Scrubber) *globals {
	c := *g
	if c.logger != nil {
		c.logger = slog.New(sc.Handler(c.logger.Handler()))
	}
	return &c
}

// secretHolder is a store that reports the credentials it reads and gets
// (vaultkv: the token file's token, the secret id, each login's token).
type secretHolder interface {
	WatchSecrets(fn func(secret string))
}

// scrubStoreSecrets makes sc scrub the store's credentials, those it holds
// now and those it learns later (a login again during a long backup).
func scrubStoreSecrets(st recordStore, sc *backuprun.Scrubber) {
	if h, ok := st.(secretHolder); ok {
		h.WatchSecrets(func(v string) { sc.Add(v) })
	}
}
