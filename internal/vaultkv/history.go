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

// A record's history (status.FieldHistory) is kept in its side key
// (status.SideKey), not in the record: serve reads every record on each
// refresh, and a history of 30 entries in each more than doubled the
// bytes a refresh decodes (BenchmarkRefreshHistory). Vault writes one key
// per request, so a result costs one more read and, when the history
// changes, one more write; on KV v2 that write is a check-and-set too.

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
	if t, ok := doc[status.FieldHistory].(string); ok {
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
// it; Get leaves the history out.
func (s *Store) Detail(ctx context.Context, key string) (map[string]any, error) {
	doc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
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
	doc = h.with(doc)
	return doc, nil
}
