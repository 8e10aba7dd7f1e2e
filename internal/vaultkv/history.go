package vaultkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/status"
)

// A record's history (status.FieldHistory) is kept in its side key
// (status.SideKey), not in the record: serve reads every record on each
// refresh, and a history of 30 entries in each more than doubled the
// bytes a refresh decodes (BenchmarkRefreshHistory). Vault writes one key
// per request, so the history costs a request of its own; on KV v2 it is
// one patch, with no read (appendHistory): a result costs the record's
// read and check-and-set write and that patch, 3 requests where the
// read-merge-write of the whole history cost 4 (TestRequestsPerResult).
// KV v1 has no patch: there the history is read, merged and written back.

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

// historySlots is how many entries a KV v2 side key keeps in slots, a
// field each ("s" and two digits), besides the merged text written by a
// read-merge-write (status.FieldHistory). A result's entry goes to the
// slot of the record version that recorded it, so no writer reads the
// side key to append to it and two writers never share a slot: Vault
// gives each version to one check-and-set. Three times status.HistoryLen,
// because a run's start and other writes (pauses, restore tests) take
// versions too: the slots keep the last 90 versions' entries, of which
// the reader keeps the last status.HistoryLen by time.
const historySlots = 3 * status.HistoryLen

func slotField(version int64) string { return fmt.Sprintf("s%02d", version%historySlots) }

// isSlotField reports whether a side key's field is a slot.
func isSlotField(f string) bool {
	if len(f) != 3 || f[0] != 's' {
		return false
	}
	return f[1] >= '0' && f[1] <= '9' && f[2] >= '0' && f[2] <= '9'
}

// sideText is a side key's history as one text: its merged text and its
// slots, ordered and bounded by status.FormatHistory. Each part is read
// on its own (status.History), so a hostile one costs its own lines.
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

// appendHistory adds lines (the new entries of the record written as
// version) to the record's side key in one patch of its slot. A side key
// not there yet is created (check-and-set 0); a policy without patch (one
// written before it) gets the read-merge-write.
func (s *Store) appendHistory(ctx context.Context, key string, version int64, lines string) error {
	side := status.SideKey(key, status.SideHistory)
	p := s.dataPath(2, side)
	data := map[string]any{slotField(version): lines}
	for range 3 {
		_, err := s.client.Logical().JSONMergePatch(ctx, p, map[string]any{"data": data})
		var re *api.ResponseError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &re) && re.StatusCode == 404:
			_, err = s.client.Logical().WriteWithContext(ctx, p, map[string]any{"options": map[string]any{"cas": 0}, "data": data})
			if errors.As(err, &re) && re.StatusCode == 400 && strings.Contains(strings.Join(re.Errors, " "), casMismatch) {
				continue // created meanwhile: patch it
			}
		case errors.As(err, &re) && re.StatusCode == 403:
			err = s.mergeHistory(ctx, key, lines)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", s.Location(side), err)
		}
		return nil
	}
	return fmt.Errorf("write %s: created and deleted concurrently, again and again", s.Location(side))
}

// mergeHistory adds lines to the record's history by read-merge-write,
// for a writer whose policy allows no patch.
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

// updateAppend is Update's attempt on KV v2 without reading the history:
// fn sees the record without it, so the history it returns holds the new
// entries alone; the record is written by check-and-set, then the entries
// are appended to its slot (appendHistory). done is false when fn left
// the record as it was but added entries: a redelivery or a late result,
// which the history may hold already, so the caller reads it.
func (s *Store) updateAppend(ctx context.Context, key string, old map[string]any, version int64, fn func(map[string]any) (map[string]any, bool, error)) (done, retry bool, fnErr, err error) {
	doc, write, fnErr := fn(old)
	if fnErr != nil || !write {
		return true, false, fnErr, nil
	}
	lines, _ := doc[status.FieldHistory].(string)
	doc = maps.Clone(doc)
	delete(doc, status.FieldHistory)
	if reflect.DeepEqual(doc, old) || (old == nil && len(doc) == 0) {
		return lines == "", false, nil, nil
	}
	sec, err := s.client.Logical().WriteWithContext(ctx, s.dataPath(2, key), map[string]any{
		"options": map[string]any{"cas": version},
		"data":    doc,
	})
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == 400 && strings.Contains(strings.Join(re.Errors, " "), casMismatch) {
		return true, true, nil, nil
	}
	if err != nil || lines == "" {
		return true, false, nil, err
	}
	written := version + 1
	if sec != nil {
		if n, ok := sec.Data["version"].(json.Number); ok {
			written, _ = n.Int64()
		}
	}
	// After the record: a failure here fails the delivery, and the
	// result delivered again finds the record as it is and so is read
	// into the history by the caller's path.
	return true, false, nil, s.appendHistory(ctx, key, written, lines)
}
