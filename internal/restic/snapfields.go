package restic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The mapping of a snapshot's members to Snapshot's fields; snapdecode.go
// scans the JSON they come in.

// snapshotField is where a member of a snapshot goes.
type snapshotField int

const (
	fieldNone snapshotField = iota
	fieldID
	fieldShortID
	fieldTime
	fieldHostname
	fieldPaths
	fieldTags
)

var snapshotFields = []struct {
	name string
	f    snapshotField
}{{"id", fieldID}, {"short_id", fieldShortID}, {"time", fieldTime}, {"hostname", fieldHostname}, {"paths", fieldPaths}, {"tags", fieldTags}}

// whichField is the field key (a raw string, quotes included) names, as
// encoding/json matches them: exactly, or else folding case.
func whichField(key []byte, plain bool) snapshotField {
	k := key[1 : len(key)-1]
	if plain {
		for _, f := range snapshotFields {
			if len(k) == len(f.name) && string(k) == f.name {
				return f.f
			}
		}
		for _, f := range snapshotFields {
			if bytes.EqualFold(k, []byte(f.name)) {
				return f.f
			}
		}
		return fieldNone
	}
	// Escapes or Unicode (whose case folding is encoding/json's own): ask it.
	var probe struct {
		ID       json.RawMessage `json:"id"`
		ShortID  json.RawMessage `json:"short_id"`
		Time     json.RawMessage `json:"time"`
		Hostname json.RawMessage `json:"hostname"`
		Paths    json.RawMessage `json:"paths"`
		Tags     json.RawMessage `json:"tags"`
	}
	if json.Unmarshal(append(append([]byte("{"), key...), ":0}"...), &probe) != nil {
		return fieldNone
	}
	for _, p := range []struct {
		raw json.RawMessage
		f   snapshotField
	}{{probe.ID, fieldID}, {probe.ShortID, fieldShortID}, {probe.Time, fieldTime}, {probe.Hostname, fieldHostname}, {probe.Paths, fieldPaths}, {probe.Tags, fieldTags}} {
		if p.raw != nil {
			return p.f
		}
	}
	return fieldNone
}

// snapshot scans one element of the listing at d.pos: an object, or null
// (a zero Snapshot, as encoding/json gives).
func (d *snapDecoder) snapshot() (Snapshot, error) {
	c, err := d.space()
	if err != nil {
		return Snapshot{}, err
	}
	d.base = d.pos
	if c != '{' {
		if _, err := d.value(0); err != nil {
			return Snapshot{}, err
		}
		if c == 'n' {
			return Snapshot{}, nil
		}
		return Snapshot{}, errors.New("a snapshot is not a JSON object")
	}
	d.cur, d.typeErr = Snapshot{}, nil
	if err := d.container('{', 1); err != nil {
		return Snapshot{}, err
	}
	return d.cur, d.typeErr
}

// member decodes one member of the snapshot: key and its value raw.
func (d *snapDecoder) member(key []byte, plainKey bool, kind byte, raw []byte) {
	f := whichField(key, plainKey)
	var err error
	switch f {
	case fieldNone:
		return
	case fieldID:
		err = d.text(raw, kind, &d.cur.ID, false)
	case fieldShortID:
		err = d.text(raw, kind, &d.cur.ShortID, false)
	case fieldHostname:
		err = d.text(raw, kind, &d.cur.Hostname, true)
	case fieldTime:
		err = d.cur.Time.UnmarshalJSON(raw)
	case fieldPaths:
		if d.noPaths {
			var paths []string
			err = d.texts(raw, kind, &paths, false)
		} else {
			err = d.texts(raw, kind, &d.cur.Paths, true)
		}
	case fieldTags:
		err = d.texts(raw, kind, &d.cur.Tags, true)
	}
	if err != nil && d.typeErr == nil {
		d.typeErr = fmt.Errorf("snapshot field %s: %w", snapshotFields[f-1].name, err)
	}
}

// text decodes a string member into *v.
func (d *snapDecoder) text(raw []byte, kind byte, v *string, intern bool) error {
	if kind != '"' || !plainString(raw) {
		return json.Unmarshal(raw, v)
	}
	b := raw[1 : len(raw)-1]
	if intern {
		*v = d.intern(b)
	} else {
		*v = string(b)
	}
	return nil
}

// intern is b as a string, the same one each time while there is room.
func (d *snapDecoder) intern(b []byte) string {
	if s, ok := d.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.interned) < maxInterned {
		d.interned[s] = s
	}
	return s
}

// texts decodes a list of strings into *v (restic's tags and paths); keep
// false only checks that it would decode, allocating nothing.
func (d *snapDecoder) texts(raw []byte, kind byte, v *[]string, keep bool) error {
	if kind != '[' {
		return json.Unmarshal(raw, v)
	}
	var out []string
	b := raw[1:]
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			return json.Unmarshal(raw, v)
		}
		switch b[0] {
		case ']':
			if keep {
				if out == nil {
					out = []string{}
				}
				*v = out
			}
			return nil
		case ',':
			b = b[1:]
			continue
		case '"':
		default:
			return json.Unmarshal(raw, v)
		}
		end := bytes.IndexByte(b[1:], '"') + 1
		if end == 0 || !plainString(b[:end+1]) {
			return json.Unmarshal(raw, v)
		}
		if keep {
			out = append(out, d.intern(b[1:end]))
		}
		b = b[end+1:]
	}
}

// plainString: raw (a string, quotes included) is ASCII without escapes.
func plainString(raw []byte) bool {
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}
