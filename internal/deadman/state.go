package deadman

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/golemtrust/backupwatch/internal/atomicfile"
)

// stateVersion is the state file's format; another is not read.
const stateVersion = 1

// maxStateBytes bounds what is read of the state file.
const maxStateBytes = 1 << 20

// stateFile is what --state.file holds, so that a restart neither pages
// again about a silence already told nor forgets to say it ended.
type stateFile struct {
	Version   int                    `json:"version"`
	WrittenAt time.Time              `json:"written_at"`
	Senders   map[string]senderState `json:"senders"`
	Told      map[string]told        `json:"told"`
}

type senderState struct {
	Last    time.Time `json:"last"`
	GapFrom time.Time `json:"gap_from,omitzero"`
	Count   float64   `json:"count"`
}

// loadState reads the state file. A missing file is a first start. A
// file that cannot be read is logged and counted, never taken for "all
// fine": every sender starts unheard, so a silence still pages once the
// first Timeout has passed. A corrupt one is set aside (renamed
// *.corrupt) so that nothing is lost; times from the future are dropped.
func (s *Switch) loadState() {
	p := s.opts.StateFile
	if p == "" {
		return
	}
	b, err := readBounded(p)
	if errors.Is(err, fs.ErrNotExist) {
		s.logger.Info("no state file yet: a first start", "state_file", p)
		return
	}
	if err != nil {
		s.stateErr++
		s.logger.Error("reading the state file failed: starting without it, every sender unheard", "state_file", p, "err", err)
		return
	}
	var st stateFile
	err = json.Unmarshal(b, &st)
	if err == nil && st.Version != stateVersion {
		err = fmt.Errorf("version %d, want %d", st.Version, stateVersion)
	}
	if err != nil {
		s.stateErr++
		aside := p + ".corrupt"
		if rerr := os.Rename(p, aside); rerr != nil {
			aside = "(not set aside: " + rerr.Error() + ")"
		}
		s.logger.Error("the state file is corrupt: starting without it, every sender unheard; it is kept for a look", "state_file", p, "kept_as", aside, "err", err)
		return
	}
	now := s.now()
	future := false
	clamp := func(t time.Time) time.Time {
		if t.After(now) {
			future = true
			return time.Time{}
		}
		return t
	}
	clamp(st.WrittenAt)
	for name, ss := range st.Senders {
		snd, ok := s.senders[name]
		if !ok {
			s.logger.Info("the state file names a sender no longer expected: ignored", "sender", name)
			continue
		}
		snd.last, snd.gapFrom, snd.count = clamp(ss.Last), clamp(ss.GapFrom), ss.Count
	}
	for name, t := range st.Told {
		cur, ok := s.told[name]
		if !ok {
			continue
		}
		for _, n := range t.Silent {
			if _, ok := s.senders[n]; ok {
				cur.Silent = append(cur.Silent, n)
			}
		}
		slices.Sort(cur.Silent)
		cur.At = t.At
		if cur.At.After(now) {
			future, cur.At = true, now
		}
	}
	if future {
		s.stateErr++
		s.logger.Error("the state file holds times from the future (was the clock wrong?): those heartbeats are not trusted, their senders count as unheard", "state_file", p, "written_at", st.WrittenAt, "now", now)
	}
	s.logger.Info("state read", "state_file", p, "written_at", st.WrittenAt)
}

func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if len(b) > maxStateBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", p, maxStateBytes)
	}
	return b, nil
}

// saveState writes the state file when the state changed.
func (s *Switch) saveState() {
	if s.opts.StateFile == "" {
		return
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	st := stateFile{Version: stateVersion, WrittenAt: s.now(), Senders: map[string]senderState{}, Told: map[string]told{}}
	for name, snd := range s.senders {
		st.Senders[name] = senderState{Last: snd.last, GapFrom: snd.gapFrom, Count: snd.count}
	}
	for name, t := range s.told {
		st.Told[name] = *t
	}
	s.dirty = false
	s.mu.Unlock()
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = atomicfile.Write(s.opts.StateFile, append(b, '\n'), 0o600)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true
		s.stateErr++
		s.mu.Unlock()
		s.logger.Error("writing the state file failed: trying again at the next check", "state_file", s.opts.StateFile, "err", err)
	}
}
