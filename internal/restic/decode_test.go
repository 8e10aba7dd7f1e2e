package restic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestDecodeSnapshots: restic's listing is decoded one snapshot at a time;
// null and [] are none; garbage or a listing cut short (restic killed part
// way) is an error, never a shorter list taken as whole.
func TestDecodeSnapshots(t *testing.T) {
	one := `{"time":"2026-11-25T02:00:00Z","hostname":"db","tags":["backupwatch-job=dump"],"id":"da77c936","short_id":"da77c936"}`
	for _, tt := range []struct {
		name, in string
		n        int64
		ok       bool
	}{
		{"two", "[" + one + "," + one + "]\n", 2, true},
		{"none", "[]", 0, true},
		{"null", "null\n", 0, true},
		{"cut short", "[" + one + "," + one[:20], 1, false},
		{"no end", "[" + one, 1, false},
		{"garbage", "Fatal: wrong password", 0, false},
		{"an object", `{"hostname":"db"}`, 0, false},
		{"empty", "", 0, false},
	} {
		var got int64
		n, err := DecodeSnapshots(strings.NewReader(tt.in), func(s Snapshot) {
			got++
			if s.Hostname != "db" || len(s.Tags) != 1 {
				t.Errorf("%s: decoded %+v", tt.name, s)
			}
		})
		if (err == nil) != tt.ok || n != tt.n || got != n {
			t.Errorf("%s: %d snapshots (%d handed), err %v; want %d, ok %v", tt.name, n, got, err, tt.n, tt.ok)
		}
	}
}

// FuzzDecodeSnapshots: whatever restic prints, decoding never panics,
// hands over exactly what it counts, and agrees with decoding it whole.
func FuzzDecodeSnapshots(f *testing.F) {
	for _, s := range []string{"[]", "null", `[{"hostname":"db","time":"2026-11-25T02:00:00Z","id":"ab"}]`, `[{"hostname":1}]`, "[", `[{}, {}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var handed int64
		n, err := DecodeSnapshots(strings.NewReader(in), func(Snapshot) { handed++ })
		if handed != n {
			t.Fatalf("counted %d, handed %d", n, handed)
		}
		var whole []Snapshot
		if werr := json.Unmarshal([]byte(in), &whole); werr == nil && err == nil && int64(len(whole)) != n {
			t.Errorf("decoded %d one at a time, %d whole", n, len(whole))
		}
	})
}

// TestEachSnapshotBadOutput: a restic whose listing is not JSON (a little,
// or more than the pipe holds) is a failed listing saying so, at once; one
// that fails says why, not that its (empty) output was not JSON.
func TestEachSnapshotBadOutput(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, script, want string }{
		{"garbage", "echo 'Fatal: not a listing'", "unexpected output"},
		{"much garbage", "yes garbage | head -c 20000000", "unexpected output"},
		{"cut short", `printf '[{"hostname":"db","id":"ab"},{"hostn'`, "unexpected output after 1 snapshots"},
		{"fails", "echo 'Fatal: wrong password or no key found' >&2; exit 12", "wrong password"},
	} {
		bin := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
		if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+tt.script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := Repo{Binary: bin, Env: []string{"PATH=/usr/bin:/bin"}}.EachSnapshot(ctx, "", func(Snapshot) {})
		if ctx.Err() != nil {
			t.Fatalf("%s: the listing outlived a minute", tt.name)
		}
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}

// decodeSnapshotsJSON is DecodeSnapshots as encoding/json does it: what
// the fast decoder is held to.
func decodeSnapshotsJSON(rd io.Reader, fn func(Snapshot)) (int64, error) {
	dec := json.NewDecoder(rd)
	tok, err := dec.Token()
	if err != nil {
		return 0, err
	}
	if tok == nil {
		return 0, nil
	}
	if tok != json.Delim('[') {
		return 0, errors.New("not a list")
	}
	var n int64
	for dec.More() {
		var s Snapshot
		if err := dec.Decode(&s); err != nil {
			return n, err
		}
		fn(s)
		n++
	}
	_, err = dec.Token()
	return n, err
}

// errorKind sorts decoding errors: output cut short, output that is not
// JSON, and JSON that is not a listing.
func errorKind(err error) string {
	var se *json.SyntaxError
	var own *syntaxError
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "cut short"
	case errors.As(err, &se), errors.As(err, &own):
		return "not JSON"
	default:
		return "not a listing"
	}
}

// FuzzDecodeSnapshotsAsJSON: the fast decoder hands over the same
// snapshots as encoding/json, and fails where it fails, with the same
// kind of error, after as many snapshots.
func FuzzDecodeSnapshotsAsJSON(f *testing.F) {
	one := `{"time":"2026-11-25T02:00:00.123456789+01:00","tree":"452d","paths":["/srv","/etc"],"hostname":"db","username":"root","tags":["backupwatch-job=dump"],"program_version":"restic 0.19.1","summary":{"backup_start":"2026-11-25T02:00:00Z","files_new":12,"data_added":1.5e3,"x":[true,false,null,-0.5E-3]},"id":"da77c936","short_id":"da77c936"}`
	for _, s := range []string{"[]", "null", "nullx", " [ ] x", "[" + one + "," + one + "]", "[" + one + " " + one + "]", "[null,{}]", "[1]", `["x"]`, "[[]]", "{}", `"x"`, "]", "[" + one[:40],
		`[{"HOSTNAME":"a","hostname":"b","Tags":null,"paths":[]}]`, `[{"ſhort_id":"x","\u0069d":"y","hostname":"d\u00e9j\u00e0","tags":["a\"b",null]}]`,
		`[{"time":"2026-13-01T00:00:00Z"}]`, `[{"time":null,"id":null,"tags":"x"}]`, `[{"paths":[1]}]`, "[{\"hostname\":\"a\xffb\"}]", `[{"a":01}]`, `[{"a":"\x"}]`, `[{"a":1.}]`, `[{"a":-}]`, `[{"a":1e}]`, `[{"a":tru}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var got, want []Snapshot
		n, err := DecodeSnapshots(strings.NewReader(in), func(s Snapshot) { got = append(got, s) })
		wn, werr := decodeSnapshotsJSON(strings.NewReader(in), func(s Snapshot) { want = append(want, s) })
		if n != wn || errorKind(err) != errorKind(werr) {
			t.Fatalf("%q: %d snapshots, %v (%s); encoding/json: %d, %v (%s)", in, n, err, errorKind(err), wn, werr, errorKind(werr))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded\n%#v\nencoding/json:\n%#v", in, got, want)
		}
		// restic's output arrives through a pipe, in pieces of any size.
		got = got[:0]
		bn, berr := DecodeSnapshots(iotest.OneByteReader(strings.NewReader(in)), func(s Snapshot) { got = append(got, s) })
		if bn != n || errorKind(berr) != errorKind(err) || !reflect.DeepEqual(got, want[:bn]) {
			t.Fatalf("%q byte by byte: %d snapshots, %v; at once: %d, %v", in, bn, berr, n, err)
		}
		// EachSnapshot's decoding leaves the paths out, and only them.
		got = got[:0]
		pn, perr := decodeSnapshots(&snapDecoder{src: strings.NewReader(in), noPaths: true}, func(s Snapshot) { got = append(got, s) })
		for i := range want {
			want[i].Paths = nil
		}
		if pn != n || errorKind(perr) != errorKind(err) || !reflect.DeepEqual(got, want[:pn]) {
			t.Fatalf("%q without paths: %d snapshots, %v; with: %d, %v", in, pn, perr, n, err)
		}
	})
}

// TestDecodeSnapshotsDepth: nesting within a snapshot is refused beyond
// encoding/json's limit, not beyond the stack.
func TestDecodeSnapshotsDepth(t *testing.T) {
	for _, depth := range []int{9998, 9999, 10000, 1000000} {
		in := `[{"summary":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}]"
		n, err := DecodeSnapshots(strings.NewReader(in), func(Snapshot) {})
		wn, werr := decodeSnapshotsJSON(strings.NewReader(in), func(Snapshot) {})
		if n != wn || errorKind(err) != errorKind(werr) {
			t.Errorf("depth %d: %d snapshots, %v; encoding/json: %d, %v", depth, n, err, wn, werr)
		}
	}
}
