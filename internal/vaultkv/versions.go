package vaultkv

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/status"
)

// kvMeta is what a KV v2 read says of the version it returned.
type kvMeta struct {
	version int64
	created time.Time      // by Vault's clock
	custom  map[string]any // the key's custom_metadata
}

// kept reports whether the key's max_versions was set (keepVersions).
func (m kvMeta) kept() bool { return m.custom[keptMarker] != nil }

// readV2 reads version n of the record at key on KV v2 (0: the current
// one). data is nil for a version deleted or destroyed; m.version is 0
// when there is no such version (never written, or no longer kept).
func (s *Store) readV2(ctx context.Context, key string, n int64) (data map[string]any, m kvMeta, err error) {
	var q map[string][]string
	if n > 0 {
		q = map[string][]string{"version": {strconv.FormatInt(n, 10)}}
	}
	sec, err := s.client.Logical().ReadWithDataWithContext(ctx, s.dataPath(2, key), q)
	if err != nil || sec == nil {
		return nil, kvMeta{}, err
	}
	if md, ok := sec.Data["metadata"].(map[string]any); ok {
		if v, ok := md["version"].(json.Number); ok {
			m.version, _ = v.Int64()
		}
		if c, ok := md["created_time"].(string); ok {
			m.created, _ = time.Parse(time.RFC3339Nano, c)
		}
		m.custom, _ = md["custom_metadata"].(map[string]any)
	}
	data, _ = sec.Data["data"].(map[string]any)
	return data, m, nil
}

// keepVersions sets the key's max_versions to historyVersions, once: the
// marker in its custom_metadata (the others kept) tells the next writer.
// A policy without the metadata's update (one from before the history)
// leaves the mount's number kept, fewer results in the history, and the
// result recorded. Its refusal is remembered for the key (s.noKeep) and
// warned about once: no marker is ever written then, and trying again
// would cost every later result a third request and say nothing new.
func (s *Store) keepVersions(ctx context.Context, key string, custom map[string]any) {
	if _, refused := s.noKeep.Load(key); refused {
		return
	}
	cm := maps.Clone(custom)
	if cm == nil {
		cm = map[string]any{}
	}
	cm[keptMarker] = strconv.Itoa(historyVersions)
	meta := s.metaPath(2, key)
	_, err := s.client.Logical().WriteWithContext(ctx, meta, map[string]any{"max_versions": historyVersions, "custom_metadata": cm})
	var re *api.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode == 403:
		if _, already := s.noKeep.LoadOrStore(key, true); !already {
			s.log.Warn("history: the Vault policy may not set the record's max_versions, so the record keeps the mount's number of versions (10 by default) and its history fewer results; not tried again by this process: add the line to the writer's policy, as the shipped backupwatch-writer has it",
				"add_to_policy", `path "`+meta+`" { capabilities = ["create", "update"] }`, "err", s.wrap("set max_versions of", s.Location(key), err))
		}
	case err != nil:
		s.log.Debug("history: could not set the record's max_versions; the mount's number of versions is kept", "err", s.wrap("set max_versions of", s.Location(key), err))
	}
}

// updateVersioned is Update's attempt on KV v2: fn sees the record without
// its history, so the history it returns holds the new entries alone. The
// record is written by check-and-set, and its new version is the new
// entry; an entry the version does not describe (a late result) is added
// to the side key. A record left as it was writes nothing more when it
// already describes the entry (a redelivery).
func (s *Store) updateVersioned(ctx context.Context, key string, old map[string]any, m kvMeta, fn func(map[string]any) (map[string]any, bool, error)) (retry bool, fnErr, err error) {
	doc, write, fnErr := fn(old)
	if fnErr != nil || !write {
		return false, fnErr, nil
	}
	lines, _ := doc[status.FieldHistory].(string)
	doc = maps.Clone(doc)
	delete(doc, status.FieldHistory)
	rest := notCarried(lines, doc)
	if reflect.DeepEqual(doc, old) || (old == nil && len(doc) == 0) {
		if rest == "" {
			return false, nil, nil
		}
		return false, nil, s.mergeHistory(ctx, key, rest)
	}
	if !m.kept() {
		s.keepVersions(ctx, key, m.custom)
	}
	_, err = s.client.Logical().WriteWithContext(ctx, s.dataPath(2, key), map[string]any{
		"options": map[string]any{"cas": m.version},
		"data":    doc,
	})
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == 400 && strings.Contains(strings.Join(re.Errors, " "), casMismatch) {
		return true, nil, nil
	}
	if err != nil || rest == "" {
		return false, nil, err
	}
	// After the record: a failure here fails the delivery, and the result
	// delivered again leaves the record as it is and comes back here.
	return false, nil, s.mergeHistory(ctx, key, rest)
}

// notCarried is lines (history entries) without the one the record doc
// describes (status.RecordEntry).
func notCarried(lines string, doc map[string]any) string {
	if lines == "" {
		return ""
	}
	entries, _ := status.History(map[string]any{status.FieldHistory: lines})
	cur, ok := status.RecordEntry(doc)
	rest := entries[:0]
	for _, e := range entries {
		if !ok || e.String() != cur.String() {
			rest = append(rest, e)
		}
	}
	return status.FormatHistory(rest)
}

// versionBatch is how many versions Detail reads at once.
const versionBatch = 8

// versionEntries reads the entries of the record's versions before
// current (whose own entry is first), newest first, in batches, until
// status.HistoryLen are found or no older version is kept. An entry
// dated beyond the clock skew allowance after Vault stored its version
// is dropped, as addHistory drops one when it is recorded.
func (s *Store) versionEntries(ctx context.Context, key string, doc map[string]any, current kvMeta) ([]status.Entry, error) {
	var entries []status.Entry
	seen := map[string]bool{}
	add := func(data map[string]any, m kvMeta) {
		e, ok := status.RecordEntry(data)
		if !ok || seen[e.String()] || (!m.created.IsZero() && e.At.After(m.created.Add(status.ClockSkew))) {
			return
		}
		seen[e.String()] = true
		entries = append(entries, e)
	}
	add(doc, current)
	for next := current.version - 1; next >= 1 && len(entries) < status.HistoryLen; next -= versionBatch {
		type got struct {
			data map[string]any
			m    kvMeta
			err  error
		}
		batch := make([]got, min(versionBatch, int(next)))
		var wg sync.WaitGroup
		for i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := &batch[i]
				g.err = s.do(ctx, "read", key, func(ctx context.Context, _ int) error {
					var err error
					g.data, g.m, err = s.readV2(ctx, key, next-int64(i))
					return err
				})
			}()
		}
		wg.Wait()
		for _, g := range batch {
			if g.err != nil {
				return nil, g.err
			}
			if g.m.version == 0 {
				return entries, nil // no longer kept: nor are the older ones
			}
			if g.data != nil { // nil: deleted
				add(g.data, g.m)
			}
		}
	}
	return entries, nil
}
