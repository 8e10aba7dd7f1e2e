package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/status"
)

// A record's history (status.FieldHistory) is never in the record that
// serve reads on each refresh: 30 entries in each more than doubled the
// bytes a refresh decodes (BenchmarkRefreshHistory).
//
// On KV v2 the history is the record's own versions: every result is a
// check-and-set write of the record, whose fields describe that result
// (status.RecordEntry), so a result costs what it cost before the
// history, the record's read and write (TestRequestsPerResult). The
// key's max_versions is set once (keepVersions; Vault's default keeps
// 10), marked in its custom_metadata, which every read returns: a result
// also takes a run's start and the odd pause, so historyVersions keeps
// three versions a result. Only Detail reads the versions, newest first,
// until it has status.HistoryLen entries. A result the new version does
// not describe (a late one: the status stays a later result's) goes to
// the side key (status.SideKey) by read-merge-write, as do the histories
// written before (side keys, with slots or without, and records with
// the history inside): Detail reads both, so nothing written earlier is
// lost.
//
// KV v1 keeps no versions and writes one key a request: there the history
// is the side key alone, read, merged and written back with each result
// (two requests more than the record's). The local store keeps it in a
// file beside the record, under the same lock (internal/localstore).

// historyVersions is the max_versions a record's key keeps on KV v2.
const historyVersions = 3 * status.HistoryLen

// keptMarker is the custom_metadata key saying max_versions was set.
const keptMarker = "backupwatch_history_versions"

// sideHistory is a record's history as read, with what is needed to
// write it back.
type sideHistory struct {
	key     string
	text    string
	version int64 // KV v2's, for the check-and-set
}

// with is old with the history in it, for the merge.
func (h sideHistory) with(old map[string]any) map[string]any {
	if old == nil || h.text == "" {
		return old
	}
	old = maps.Clone(old)
	old[status.FieldHistory] = h.text
	return old
}

// readHistory reads the history of the record at key. A record written
// with its history inside (by hand, or another tool) keeps it as the
// history until the side key has one.
func (s *Store) readHistory(ctx context.Context, v int, key string, old map[string]any) (sideHistory, error) {
	h := sideHistory{key: status.SideKey(key, status.SideHistory)}
	doc, version, err := s.read(ctx, v, h.key)
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == 403 {
		// A policy written before the history (the runbook's, for the
		// record alone) must not cost the record: no history then.
		return sideHistory{}, nil
	}
	if err != nil {
		return h, fmt.Errorf("read %s: %w", s.Location(h.key), err)
	}
	h.version = version
	if t := sideText(doc); t != "" {
		h.text = t
	} else if t, ok := old[status.FieldHistory].(string); ok {
		h.text = t
	}
	return h, nil
}

// writeHistory takes the history out of doc and writes it to its side key
// when it changed; retry is set when another writer changed it first. A
// history that could not be read (h.key empty) is not written.
func (s *Store) writeHistory(ctx context.Context, v int, h sideHistory, doc map[string]any) (map[string]any, bool, error) {
	t, ok := doc[status.FieldHistory].(string)
	if !ok {
		return doc, false, nil
	}
	doc = maps.Clone(doc)
	delete(doc, status.FieldHistory)
	if t == h.text || h.key == "" {
		return doc, false, nil
	}
	data := map[string]any{status.FieldHistory: t}
	var err error
	if v == 1 {
		_, err = s.client.Logical().WriteWithContext(ctx, s.dataPath(v, h.key), data)
	} else {
		_, err = s.client.Logical().WriteWithContext(ctx, s.dataPath(v, h.key), map[string]any{"options": map[string]any{"cas": h.version}, "data": data})
	}
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == 400 && strings.Contains(strings.Join(re.Errors, " "), casMismatch) {
		return doc, true, nil
	}
	if err != nil {
		return doc, false, fmt.Errorf("write %s: %w", s.Location(h.key), err)
	}
	return doc, false, nil
}

// Detail reads the record at key with its history, for a page that shows
// it; Get leaves the history out. On KV v2 the history is the side key's
// (late results, and histories written before the versions were) with
// the record's versions' (versionEntries).
func (s *Store) Detail(ctx context.Context, key string) (map[string]any, error) {
	var doc map[string]any
	var m kvMeta
	var v int
	err := s.do(ctx, "read", key, func(ctx context.Context, ver int) error {
		var err error
		if v = ver; v == 1 {
			doc, _, err = s.readStored(ctx, v, key)
		} else {
			doc, m, err = s.readV2(ctx, key, 0)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, fmt.Errorf("read %s: %w", s.Location(key), status.ErrNotFound)
	}
	var h sideHistory
	err = s.do(ctx, "read", status.SideKey(key, status.SideHistory), func(ctx context.Context, v int) error {
		var err error
		h, err = s.readHistory(ctx, v, key, doc)
		return err
	})
	if err != nil {
		return nil, err
	}
	if v == 2 {
		entries, err := s.versionEntries(ctx, key, doc, m)
		if err != nil {
			return nil, err
		}
		// After the side key's text, which History reads as written (its
		// problems named), and bounds from its start.
		lines := make([]string, 0, len(entries)+1)
		if h.text != "" {
			lines = append(lines, h.text)
		}
		for _, e := range entries {
			lines = append(lines, e.String())
		}
		h.text = strings.Join(lines, "\n")
		if !m.created.IsZero() {
			doc[status.StoredAtKey] = m.created
		}
	}
	doc = h.with(doc)
	return doc, nil
}

// sideText is a side key's history as one text: its merged text and its
// slots (fields "s00".."s89", written by an earlier version, which
// patched one slot a result), ordered and bounded by
// status.FormatHistory. Each part is read on its own (status.History), so
// a hostile one costs its own lines.
func sideText(doc map[string]any) string {
	var entries []status.Entry
	slots := false
	for f, v := range doc {
		if f != status.FieldHistory && !isSlotField(f) {
			continue
		}
		slots = slots || f != status.FieldHistory
		e, _ := status.History(map[string]any{status.FieldHistory: v})
		entries = append(entries, e...)
	}
	if !slots {
		t, _ := doc[status.FieldHistory].(string)
		return t // as written: nothing to merge
	}
	return status.FormatHistory(entries)
}

// isSlotField reports whether a side key's field is a slot.
func isSlotField(f string) bool {
	if len(f) != 3 || f[0] != 's' {
		return false
	}
	return f[1] >= '0' && f[1] <= '9' && f[2] >= '0' && f[2] <= '9'
}

// mergeHistory adds lines to the record's side key by read-merge-write.
func (s *Store) mergeHistory(ctx context.Context, key, lines string) error {
	for range 10 {
		h, err := s.readHistory(ctx, 2, key, nil)
		if err != nil || h.key == "" {
			return err
		}
		old, _ := status.History(map[string]any{status.FieldHistory: h.text})
		add, _ := status.History(map[string]any{status.FieldHistory: lines})
		_, retry, err := s.writeHistory(ctx, 2, h, map[string]any{status.FieldHistory: status.FormatHistory(append(old, add...))})
		if err != nil || !retry {
			return err
		}
	}
	return errors.New("gave up after 10 concurrent changes")
}
