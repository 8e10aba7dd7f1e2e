package restic

import (
	"fmt"
	"io"
)

// snapDecoder reads restic snapshots --json without encoding/json's
// reflection: a listing of 100,000 snapshots is mostly their summaries,
// paths and tree ids, which repo-check never reads. It checks the syntax of
// all of it as encoding/json does, decodes the fields of Snapshot from
// their raw bytes, and hands anything unusual in them (escapes, non-ASCII,
// a type other than the expected) to encoding/json, so that what it
// accepts and what it decodes are encoding/json's.
type snapDecoder struct {
	src  io.Reader
	buf  []byte
	pos  int   // next byte to read
	base int   // the current snapshot's first byte: spans are relative to it
	err  error // the source's, once it returned one
	// interned host names and tags: a fleet's few thousand, not some per
	// snapshot. Bounded, so junk names cost no more than without it.
	interned map[string]string
	// noPaths leaves Snapshot.Paths out (their syntax and type still
	// checked): repo-check never reads them, and they are most of what a
	// snapshot would allocate.
	noPaths bool
	// The snapshot being decoded, and the first of its fields that would
	// not decode (encoding/json reads on to the end before saying so).
	cur     Snapshot
	typeErr error
}

// maxInterned bounds snapDecoder.interned.
const maxInterned = 1 << 16

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// syntaxError is output that is not JSON.
type syntaxError struct {
	msg string
	off int64
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s (at byte %d)", e.msg, e.off) }

// fill reads more of the source, keeping the current snapshot's bytes.
func (d *snapDecoder) fill() bool {
	if d.err != nil {
		return false
	}
	if d.base > 0 && d.base >= len(d.buf)/2 {
		n := copy(d.buf, d.buf[d.base:])
		d.buf = d.buf[:n]
		d.pos -= d.base
		d.base = 0
	}
	if len(d.buf) == cap(d.buf) {
		d.buf = append(d.buf, make([]byte, max(cap(d.buf), 64<<10))...)[:len(d.buf)]
	}
	for range 100 {
		n, err := d.src.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil {
			d.err = err
		}
		if n > 0 || err != nil {
			return n > 0
		}
	}
	d.err = io.ErrNoProgress
	return false
}

// peek is the next byte, false at the end of the output.
func (d *snapDecoder) peek() (byte, bool) {
	if d.pos >= len(d.buf) && !d.fill() {
		return 0, false
	}
	return d.buf[d.pos], true
}

// end is the error for output that ended part way.
func (d *snapDecoder) end() error {
	if d.err != nil && d.err != io.EOF {
		return d.err
	}
	return io.ErrUnexpectedEOF
}

func (d *snapDecoder) bad(c byte, context string) error {
	return &syntaxError{msg: fmt.Sprintf("invalid character %q %s", c, context), off: int64(d.pos)}
}

// space skips white space and returns the next byte.
func (d *snapDecoder) space() (byte, error) {
	for {
		c, ok := d.peek()
		if !ok {
			return 0, d.end()
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, nil
		}
		d.pos++
	}
}

// str scans a string at d.pos; plain is false when it holds an escape or
// a byte beyond ASCII (encoding/json then decodes it).
func (d *snapDecoder) str() (plain bool, err error) {
	d.pos++ // the quote
	plain = true
	for {
		if d.pos >= len(d.buf) && !d.fill() {
			return false, d.end()
		}
		b := d.buf[d.pos:]
		i := 0
		for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 && b[i] < 0x80 {
			i++
		}
		d.pos += i
		if i == len(b) {
			continue
		}
		switch c := b[i]; {
		case c == '"':
			d.pos++
			return plain, nil
		case c < 0x20:
			return false, d.bad(c, "in string literal")
		case c >= 0x80:
			plain = false
			d.pos++
		default: // a backslash
			plain = false
			d.pos++
			e, ok := d.peek()
			if !ok {
				return false, d.end()
			}
			d.pos++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					h, ok := d.peek()
					if !ok {
						return false, d.end()
					}
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false, d.bad(h, "in \\u hexadecimal character escape")
					}
					d.pos++
				}
			default:
				d.pos--
				return false, d.bad(e, "in string escape code")
			}
		}
	}
}

// digits scans one or more digits; it reports whether there was one.
func (d *snapDecoder) digits() (bool, error) {
	n := 0
	for {
		c, ok := d.peek()
		if !ok || c < '0' || c > '9' {
			if !ok && d.err != io.EOF && d.err != nil {
				return false, d.err
			}
			return n > 0, nil
		}
		d.pos++
		n++
	}
}

// number scans a JSON number at d.pos.
func (d *snapDecoder) number() error {
	c, _ := d.peek()
	if c == '-' {
		d.pos++
		if c, ok := d.peek(); !ok {
			return d.end()
		} else if c < '0' || c > '9' {
			return d.bad(c, "in numeric literal")
		}
	}
	if c, _ := d.peek(); c == '0' {
		d.pos++
	} else if _, err := d.digits(); err != nil {
		return err
	}
	if c, ok := d.peek(); ok && c == '.' {
		d.pos++
		if ok, err := d.digits(); err != nil {
			return err
		} else if !ok {
			return d.after("after decimal point in numeric literal")
		}
	}
	if c, ok := d.peek(); ok && (c == 'e' || c == 'E') {
		d.pos++
		if c, ok := d.peek(); ok && (c == '+' || c == '-') {
			d.pos++
		}
		if ok, err := d.digits(); err != nil {
			return err
		} else if !ok {
			return d.after("in exponent of numeric literal")
		}
	}
	return nil
}

// after is the error for what follows where something else was due.
func (d *snapDecoder) after(context string) error {
	c, ok := d.peek()
	if !ok {
		return d.end()
	}
	return d.bad(c, context)
}

// literal scans true, false or null at d.pos.
func (d *snapDecoder) literal(word string) error {
	for i := range len(word) {
		c, ok := d.peek()
		if !ok {
			return d.end()
		}
		if c != word[i] {
			return d.bad(c, "in literal "+word+" (expecting "+fmt.Sprintf("%q", word[i])+")")
		}
		d.pos++
	}
	return nil
}

// value scans any value at d.pos (after white space), depth containers
// deep; kind is its first byte.
func (d *snapDecoder) value(depth int) (kind byte, err error) {
	c, err := d.space()
	if err != nil {
		return 0, err
	}
	switch {
	case c == '"':
		_, err = d.str()
	case c == '-' || '0' <= c && c <= '9':
		err = d.number()
	case c == 't':
		err = d.literal("true")
	case c == 'f':
		err = d.literal("false")
	case c == 'n':
		err = d.literal("null")
	case c == '{' || c == '[':
		err = d.container(c, depth+1)
	default:
		err = d.bad(c, "looking for beginning of value")
	}
	return c, err
}

// container scans an object or array at d.pos; a snapshot's members (the
// object at depth 1) are decoded as they are scanned.
func (d *snapDecoder) container(open byte, depth int) error {
	if depth > maxDepth {
		return &syntaxError{msg: "exceeded max depth", off: int64(d.pos)}
	}
	d.pos++
	closing := byte(']')
	if open == '{' {
		closing = '}'
	}
	c, err := d.space()
	if err != nil {
		return err
	}
	if c == closing {
		d.pos++
		return nil
	}
	for {
		var key [2]int
		plainKey := false
		if open == '{' {
			if c, err = d.space(); err != nil {
				return err
			}
			if c != '"' {
				return d.bad(c, "looking for beginning of object key string")
			}
			key[0] = d.pos - d.base
			if plainKey, err = d.str(); err != nil {
				return err
			}
			key[1] = d.pos - d.base
			if c, err = d.space(); err != nil {
				return err
			}
			if c != ':' {
				return d.bad(c, "after object key")
			}
			d.pos++
		}
		if _, err := d.space(); err != nil {
			return err
		}
		start := d.pos - d.base
		kind, err := d.value(depth)
		if err != nil {
			return err
		}
		if depth == 1 && open == '{' {
			d.member(d.buf[d.base+key[0]:d.base+key[1]], plainKey, kind, d.buf[d.base+start:d.pos])
		}
		if c, err = d.space(); err != nil {
			return err
		}
		d.pos++
		switch c {
		case ',':
		case closing:
			return nil
		default:
			d.pos--
			if open == '{' {
				return d.bad(c, "after object key:value pair")
			}
			return d.bad(c, "after array element")
		}
	}
}
