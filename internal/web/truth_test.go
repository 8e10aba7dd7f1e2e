package web

import (
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// TestPageTellsTheTruth (issue 24): on a fleet with schedules, no heading
// or legend speaks of "the last 24 h" as if it judged every item; a first
// run in progress says "running"; a malformed record says why it cannot
// be read instead of "never reported"; one host is "1 host".
func TestPageTellsTheTruth(t *testing.T) {
	snap := realisticFleet(t)
	page := get(t, New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: options().Now}), "/")
	text := pageText(t, page)
	for _, bad := range []string{"in the last 24 h", "within the last 24 h", "no success for over 24 h"} {
		if strings.Contains(text, bad) {
			t.Errorf("the page says %q over a 12-hourly host and a weekly job:\n%s", bad, text)
		}
	}
	for _, want := range []string{
		"legacy record unreadable: not a JSON object: invalid character 'x'",
		"web-2 job nightly every 1d, grace 2h running its first backup, started 5 min ago",
		"mail every 12h, grace 1h no successful backup for 15 h; was due 2 h ago",
		"new-host never reported a backup",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the page lacks %q:\n%s", want, text)
		}
	}

	v := Build(snap, options(), "")
	for _, sec := range v.Sections {
		for _, tl := range sec.All {
			if tl.Host == "web-2" && tl.Job == "nightly" && !strings.Contains(string(compact([]Tile{tl})), "</span> running</li>") {
				t.Errorf("the small tile of a first run in progress does not say running: %s", compact([]Tile{tl}))
			}
		}
	}

	one := &fleet.Snapshot{Listed: true, Hosts: fleet.RecordsOf([]status.Record{{Host: "db", Status: status.Success, LastSuccess: ago(1)}}...)}
	text = pageText(t, get(t, New(Options{Snapshot: func() *fleet.Snapshot { return one }, Now: options().Now}), "/?q=d"))
	for _, want := range []string{"1 host: ", "Showing 1 of 1 host."} {
		if !strings.Contains(text, want) {
			t.Errorf("one host: the page lacks %q:\n%s", want, text)
		}
	}
}

// TestEmptyPageHintWritesWhereThePageReads: following the empty page's
// hint writes into the store the page shows, not the default one.
func TestEmptyPageHintWritesWhereThePageReads(t *testing.T) {
	empty := &fleet.Snapshot{Listed: true}
	page := get(t, New(Options{Snapshot: func() *fleet.Snapshot { return empty }, StoreDir: "/home/me/backupwatch/data/records"}), "/")
	if want := "backupwatch --store.dir=/home/me/backupwatch/data/records record --status success --host NAME"; !strings.Contains(pageText(t, page), want) {
		t.Errorf("the empty page's hint lacks %q:\n%s", want, pageText(t, page))
	}
	for dir, want := range map[string]string{"/srv/my records": `'/srv/my records'`, "/srv/it's": `'/srv/it'\''s'`, "/srv/plain-dir_1.x": "/srv/plain-dir_1.x"} {
		if got := shellQuote(dir); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", dir, got, want)
		}
	}
}

// pageText is the page's text as a person reads it: tags dropped, spaces
// collapsed.
func pageText(t *testing.T, page string) string {
	t.Helper()
	var b strings.Builder
	in := false
	for _, r := range page {
		switch {
		case r == '<':
			in = true
			b.WriteRune(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	for _, p := range []string{" :", " ,", " ;", " ."} {
		s = strings.ReplaceAll(s, p, p[1:])
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "&#34;", `"`), "&#39;", "'")
}
