package deadman

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is the switch's time, moved by the test: judging is logic, and
// its rules are about durations.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// inbox is a person's inbox behind one channel: it keeps what it is told,
// or fails while failing is set.
type inbox struct {
	name    string
	mu      sync.Mutex
	got     []Message
	failing bool
}

func (i *inbox) Name() string { return i.name }
func (i *inbox) Notify(_ context.Context, m Message) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.failing {
		return errors.New("the channel is down")
	}
	i.got = append(i.got, m)
	return nil
}

// kinds returns the kinds told since the last call.
func (i *inbox) take() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	var out []string
	for _, m := range i.got {
		out = append(out, m.Kind)
	}
	i.got = nil
	return out
}

type rig struct {
	t      *testing.T
	clock  *clock
	slack  *inbox
	email  *inbox
	sw     *Switch
	state  string
	logs   *bytes.Buffer
	sender []string
}

const (
	timeout  = 10 * time.Minute
	reminder = 24 * time.Hour
	tick     = time.Minute
)

func newRig(t *testing.T, senders ...string) *rig {
	r := &rig{t: t, clock: &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)},
		slack: &inbox{name: "slack"}, email: &inbox{name: "email"},
		state: filepath.Join(t.TempDir(), "deadman.json"), sender: senders}
	r.restart()
	return r
}

// restart makes a new switch on the same state file, as a restarted
// process does.
func (r *rig) restart() {
	r.t.Helper()
	r.logs = &bytes.Buffer{}
	sw, err := New(Options{Senders: r.sender, Timeout: timeout, Reminder: reminder, StateFile: r.state,
		Notifiers: []Notifier{r.slack, r.email}, Now: r.clock.now,
		Logger: slog.New(slog.NewTextHandler(r.logs, nil))})
	if err != nil {
		r.t.Fatal(err)
	}
	r.sw = sw
}

// run moves time on by d, one check a minute, with heartbeats from
// beating each minute.
func (r *rig) run(d time.Duration, beating ...string) {
	for end := r.clock.now().Add(d); r.clock.now().Before(end); {
		r.clock.add(tick)
		for _, b := range beating {
			if !r.sw.Heartbeat(b) {
				r.t.Fatalf("heartbeat from %q refused", b)
			}
		}
		r.sw.Judge(context.Background())
	}
	r.sw.saveState() // Run saves after every check; once here keeps the test fast
}

// told checks both channels got exactly want since the last check.
func (r *rig) told(what string, want ...string) {
	r.t.Helper()
	for _, in := range []*inbox{r.slack, r.email} {
		if got := in.take(); strings.Join(got, ",") != strings.Join(want, ",") {
			r.t.Errorf("%s: %s got %v, want %v", what, in.name, got, want)
		}
	}
}

func TestOneSender(t *testing.T) {
	r := newRig(t)
	r.run(2*time.Hour, AnySender)
	r.told("beating for two hours")

	r.run(timeout)
	r.told("silent for exactly the timeout")
	r.run(tick)
	r.told("silent for longer than the timeout", KindPage)
	r.run(reminder - 2*tick)
	r.told("silent, before the reminder is due")
	r.run(2 * tick)
	r.told("silent for a day more", KindReminder)
	r.run(3 * reminder)
	r.told("silent three days more", KindReminder, KindReminder, KindReminder)

	r.run(tick, AnySender)
	r.told("a heartbeat", KindBack)
	r.run(time.Hour, AnySender)
	r.told("beating again")
}

func TestNothingJudgedDuringTheFirstTimeout(t *testing.T) {
	r := newRig(t)
	r.run(timeout - tick)
	r.told("no heartbeat yet, within the first timeout")
	r.run(2 * tick)
	r.told("no heartbeat since the start, past the first timeout", KindPage)
}

func TestSeveralSenders(t *testing.T) {
	a, b := "http://am-1:9093", "http://am-2:9093"
	r := newRig(t, a, b+"/")
	r.run(time.Hour, a, b)
	r.told("both beating")

	r.run(timeout+tick, a)
	r.told("one of two silent, not yet for the settle time")
	r.run(timeout/5, a)
	r.told("one of two silent", KindWarning)
	r.run(2*reminder, a)
	r.told("one of two silent for two days: a warning is told once")

	r.run(timeout + tick)
	r.told("both silent", KindPage)
	r.run(tick, a)
	r.told("one back, the other a heartbeat later")
	r.run(tick, a, b)
	r.told("both back", KindBack)
	r.run(timeout + tick)
	r.told("both silent, a heartbeat apart", KindPage)
	r.run(timeout/5+tick, a)
	r.told("one back for the settle time", KindWarning)
	r.run(tick, a, b)
	r.told("the other back too", KindBack)

	// Which is silent and since when is in the message.
	r.run(timeout+tick+timeout/5, b)
	msgs := r.slack.got
	if len(msgs) != 1 || !strings.Contains(msgs[0].Title, "1 of 2") || !strings.Contains(msgs[0].Title, a) || !strings.Contains(msgs[0].Text, "Silent: "+a+", last heartbeat at 2026-12-") {
		t.Errorf("the warning: %+v", msgs)
	}
	r.told("the other one silent", KindWarning)

	if r.sw.Heartbeat("http://am-3:9093") {
		t.Errorf("a heartbeat from an unknown sender was taken")
	}
}

func TestRestartsKeepWhatWasTold(t *testing.T) {
	r := newRig(t)
	r.run(time.Hour, AnySender)
	for range 5 {
		r.restart()
		r.run(timeout+2*tick, AnySender)
	}
	r.told("restarted five times while beating")

	r.run(timeout + tick)
	r.told("silent", KindPage)
	r.restart()
	r.run(timeout + 2*tick)
	r.told("restarted while silent: not told again")
	r.restart()
	r.run(tick, AnySender)
	r.run(timeout+tick, AnySender)
	r.told("back after a restart", KindBack)

	// Down longer than the timeout while heartbeats went on: they were
	// lost, not missed; the first timeout after the start brings new ones.
	r.clock.add(3 * time.Hour)
	r.restart()
	r.run(timeout+2*tick, AnySender)
	r.told("down for three hours, heartbeats meanwhile")
}

func TestBadStateFile(t *testing.T) {
	for _, tc := range []struct {
		name, content, log string
	}{
		{"corrupt", `{"version":1,"senders":{"heartbeat":{"last":"2026-12-06T`, "the state file is corrupt"},
		{"another version", `{"version":7}`, "the state file is corrupt"},
		{"not JSON", "\x00\x01garbage", "the state file is corrupt"},
		{"from the future", `{"version":1,"written_at":"2099-01-01T00:00:00Z","senders":{"heartbeat":{"last":"2099-01-01T00:00:00Z","count":5}},"told":{}}`, "times from the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			if err := os.WriteFile(r.state, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			r.restart()
			if !strings.Contains(r.logs.String(), tc.log) {
				t.Errorf("log: %s\nwant %q", r.logs, tc.log)
			}
			// Never a false "all fine": nothing comes, and it pages.
			r.run(timeout + tick)
			r.told("silent since a start with a bad state file", KindPage)
			if tc.log == "the state file is corrupt" {
				if b, err := os.ReadFile(r.state + ".corrupt"); err != nil || string(b) != tc.content {
					t.Errorf("the corrupt file is not kept aside: %q, %v", b, err)
				}
			}
		})
	}
}

func TestAFailingChannelIsTriedAgainAndToldOnce(t *testing.T) {
	r := newRig(t)
	r.run(time.Hour, AnySender)
	r.slack.failing = true
	r.run(timeout + 5*tick)
	if got := r.email.take(); len(got) != 1 || got[0] != KindPage {
		t.Errorf("email, Slack failing: %v, want one page", got)
	}
	r.slack.mu.Lock()
	r.slack.failing = false
	r.slack.mu.Unlock()
	r.run(3 * tick)
	if got := r.slack.take(); len(got) != 1 || got[0] != KindPage {
		t.Errorf("Slack back: %v, want one page", got)
	}
	r.sw.mu.Lock()
	failed, sent := r.sw.failed["slack"], r.sw.sent["slack"]
	r.sw.mu.Unlock()
	if failed != 5 || sent != 1 {
		t.Errorf("slack failed %v, sent %v; want 5 and 1", failed, sent)
	}
}
