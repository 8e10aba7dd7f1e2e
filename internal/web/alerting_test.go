package web

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/heartbeat"
)

// hostileSender is a sender's name as a switch's /metrics could carry it.
var hostileSender = `<script>alert("sender")</script>` + hostileQuote + "\nsecond line\u202e" + strings.Repeat("long", 200)

// everyAlertingState is a switch in each state the section shows, read a
// minute before testNow.
func everyAlertingState() []heartbeat.State {
	read := ago(time.Minute)
	return []heartbeat.State{
		{Switch: "http://deadman-fine:10037/metrics", Read: read, Judging: true, Timeout: 10 * time.Minute,
			Senders: []heartbeat.Sender{{Name: "http://am-1:9093", Last: ago(90 * time.Second)}, {Name: "http://am-2:9093", Last: ago(2 * time.Minute)}}},
		{Switch: "http://deadman-partial:10037/metrics", Read: read, Judging: true, Timeout: 10 * time.Minute,
			Senders: []heartbeat.Sender{{Name: "http://am-1:9093", Last: ago(time.Minute)}, {Name: hostileSender, Last: ago(25 * time.Minute), Silent: true}}},
		{Switch: "http://deadman-silent:10037/metrics", Read: read, Judging: true, Timeout: 10 * time.Minute,
			Senders: []heartbeat.Sender{{Name: "http://am-1:9093", Last: ago(3 * time.Hour), Silent: true}, {Name: "http://am-2:9093", Silent: true}}},
		{Switch: "http://deadman-starting:10037/metrics", Read: read, Timeout: 10 * time.Minute,
			Senders: []heartbeat.Sender{{Name: "http://am-1:9093"}}},
		{Switch: "https://deadman-down:10037/metrics", Read: read, Err: "dial tcp 10.0.0.9:10037: connect: connection refused " + hostileValue},
		{Switch: "http://deadman-pending:10037/metrics"},
	}
}

// TestAlertingPathInChromium: the "Alerting path" shows each switch's
// state in the browser, with its look, hostile names as text on one
// bounded line; it is absent without a switch.
func TestAlertingPathInChromium(t *testing.T) {
	snap := fleetOf(1, 0, 0, 3)
	many := heartbeat.State{Switch: "http://deadman-many:10037/metrics", Read: ago(time.Minute), Judging: true, Timeout: time.Minute}
	for i := range 30 {
		many.Senders = append(many.Senders, heartbeat.Sender{Name: "sender-" + strconv.Itoa(i), Last: ago(time.Duration(i) * time.Hour), Silent: i > 0})
	}
	states := append(everyAlertingState(), many)
	srv := httptest.NewServer(New(Options{
		Snapshot:     func() *fleet.Snapshot { return snap },
		Now:          func() time.Time { return testNow },
		AlertingPath: func() []heartbeat.State { return states },
	}))
	defer srv.Close()
	d := parseDOM(t, runChromium(t, "--dump-dom", srv.URL+"/"))
	for _, h := range d.handlers {
		t.Errorf("an element has an event handler attribute %s: a value was not escaped", h)
	}
	for _, e := range d.elements {
		if e == "img" {
			t.Errorf("the page has an <img> element: a hostile value became markup")
		}
	}
	var got []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && strings.HasPrefix(attr(n, "class"), "alerting") {
			got = append(got, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(d.doc)
	want := []struct{ state, class, text string }{
		{"fine", "alerting green", "Alerting path: heartbeats arrive from every sender (2 senders): Prometheus and Alertmanager can reach a person. http://am-1:9093: last heartbeat 1 min ago"},
		{"partial", "alerting amber", "1 of 2 senders silent: the dead man's switch warns"},
		{"silent", "alerting red", "all 2 senders silent: no alert reaches a person through Alertmanager; the dead man's switch pages. http://am-1:9093: silent, last heartbeat 3 h ago http://am-2:9093: silent, never heard since the switch's state began"},
		{"starting", "alerting grey", "started less than its timeout (10m0s) ago and does not judge yet"},
		{"unreachable", "alerting grey", "cannot be read: dial tcp 10.0.0.9:10037: connect: connection refused " + hostileValue},
		{"pending", "alerting grey", "has not been read yet"},
		{"partial", "alerting amber", "29 of 30 senders silent"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d switches on the page, want %d", len(got), len(want))
	}
	for i, w := range want {
		txt := strings.Join(strings.Fields(text(got[i])), " ")
		if s := attr(got[i], "data-alerting-state"); s != w.state || attr(got[i], "class") != w.class || !strings.Contains(txt, w.text) {
			t.Errorf("switch %d: %s %q %q; want %s %q with %q", i, s, attr(got[i], "class"), txt, w.state, w.class, w.text)
		}
	}
	partial := text(got[1])
	if !strings.Contains(partial, `<script>alert("sender")</script>`+hostileQuote+" second line") || strings.Contains(partial, "\u202e") {
		t.Errorf("the hostile sender is not shown as one line of text: %q", partial)
	}
	for _, li := range elements(got[1], "li") {
		if n := utf8.RuneCountInString(text(li)); n > maxHostText+80 {
			t.Errorf("a sender's line is %d runes long", n)
		}
	}
	if lis := elements(got[6], "li"); len(lis) != maxSendersShown+1 || !strings.Contains(text(lis[maxSendersShown]), "and 10 more") || attr(lis[0], "data-sender-silent") != "true" {
		t.Errorf("30 senders: %d lines, want %d and the rest counted", len(lis), maxSendersShown+1)
	}

	// Without --deadman.url there is no section.
	plain := httptest.NewServer(New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: func() time.Time { return testNow }}))
	defer plain.Close()
	if p := parseDOM(t, runChromium(t, "--dump-dom", plain.URL+"/")); strings.Contains(text(p.doc), "Alerting path") {
		t.Errorf("the page shows an alerting path without a switch")
	}
}

func elements(n *html.Node, name string) []*html.Node {
	var out []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == name {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}
