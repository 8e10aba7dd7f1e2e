package web

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

// hostile strings, as a store could hold them in host names and values.
const (
	hostileHost  = `<script>alert("host")</script>`
	hostileQuote = `x" onmouseover="alert(1)`
	hostileValue = `<img src=x onerror=alert('value')>`
	hostileOK    = `ok'"><img src=x onerror=alert(2)>&amp;`
)

func hostileSnapshot() *fleet.Snapshot {
	mins := 47.0
	return &fleet.Snapshot{
		Hosts: fleet.RecordsOf([]status.Record{
			{Host: "auth", Status: status.Success, LastSuccess: ago(2 * time.Hour)},
			{Host: "db", Status: status.Failed, LastSuccess: ago(26 * time.Hour), LastFailure: ago(time.Hour), ExitCode: i64(3),
				Message: "restic backup: exit 3\nFatal: unable to open config file: " + hostileValue + "\n\x1b[31m\u202egnp.exe\xff"},
			{Host: "graylog-1", Status: status.Success, LastSuccess: ago(30 * time.Hour)},
			{Host: "metrics", Status: status.Unknown, Problems: []string{"no record"}},
			{Host: hostileHost, Status: status.Success, LastSuccess: ago(49 * time.Hour), Problems: []string{`host name "` + hostileHost + `": character '<' is not allowed`}},
			{Host: hostileQuote, Status: status.Unknown, RawStatus: hostileValue, Problems: []string{"status: unrecognised value " + hostileValue}},
			{Host: "web-1", Status: status.Failed, LastSuccess: ago(time.Hour), LastFailure: ago(10 * time.Minute), ConsecutiveFailures: i64(2)},
			{Host: "web-2", Status: status.Success, LastSuccess: ago(20 * time.Minute)},
			{Host: hostileOK, Status: status.Success, LastSuccess: ago(5 * time.Minute), Problems: []string{"host name: not allowed"}},
			{Host: "new-host", Status: status.Unknown, Problems: []string{"no record"}},
		}...),
		RestoreTest: &status.RestoreTest{LastTest: ago(40 * 24 * time.Hour), Result: status.Failed, HostTested: hostileValue, TimeToRestoreMinutes: &mins,
			Notes: "missing after restore: /etc/" + hostileHost},
		Err:         errors.New("list kv/golemtrust/backup-status: vault unreachable at " + hostileValue),
		LastSuccess: ago(10 * time.Minute),
		Problems:    []string{`"` + hostileHost + `/" is a folder under the prefix, not a host record`},
	}
}

// chromium returns the path of Debian's chromium, failing the test when it
// is not installed.
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): run `make deps` (installs Debian's chromium package)", err)
	}
	return p
}

// runChromium runs headless Chromium with args and returns its stdout.
func runChromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromium(t), append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// domTile is a tile as Chromium built it.
type domTile struct {
	id, host, state, class, text, title string
	hidden                              bool
}

// dom is what a page's DOM, as Chromium dumped it, shows.
type dom struct {
	doc      *html.Node
	tiles    []domTile
	elements []string
	handlers []string // on* attributes
	root     map[string]string
}

func parseDOM(t *testing.T, b []byte) dom {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse the DOM chromium dumped: %v", err)
	}
	d := dom{doc: doc, root: map[string]string{}}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			d.elements = append(d.elements, n.Data)
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					d.handlers = append(d.handlers, "<"+n.Data+" "+a.Key+"="+a.Val+">")
				}
			}
			if n.Data == "html" {
				for _, a := range n.Attr {
					d.root[a.Key] = a.Val
				}
			}
			if n.Data == "li" && strings.Contains(attr(n, "class"), "tile") {
				_, hidden := attrOK(n, "hidden")
				d.tiles = append(d.tiles, domTile{attr(n, "id"), attr(n, "data-host"), attr(n, "data-state"), attr(n, "class"), text(n), attr(n, "title"), hidden})
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return d
}

func attr(n *html.Node, k string) string {
	v, _ := attrOK(n, k)
	return v
}

func attrOK(n *html.Node, k string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == k {
			return a.Val, true
		}
	}
	return "", false
}

// TestPageInChromium loads the page in a real headless Chromium: tiles in
// order with their states, colours and words, no hostile value turned into
// markup, the filter script allowed by the CSP, and a screenshot showing
// the colours.
func TestPageInChromium(t *testing.T) {
	snap := hostileSnapshot()
	srv := httptest.NewServer(New(Options{
		Snapshot: func() *fleet.Snapshot { return snap },
		Store:    "vault http://127.0.0.1:8200 kv/golemtrust/backup-status",
		Now:      func() time.Time { return testNow },
	}))
	defer srv.Close()

	d := parseDOM(t, runChromium(t, "--dump-dom", srv.URL+"/"))
	for _, h := range d.handlers {
		t.Errorf("an element has an event handler attribute %s: a value was not escaped", h)
	}
	scripts := 0
	for _, e := range d.elements {
		switch e {
		case "img":
			t.Errorf("the page has an <img> element: a hostile value became markup")
		case "script":
			scripts++
		}
	}
	if scripts != 1 {
		t.Errorf("the page has %d <script> elements, want 1 (the filter): a hostile value became markup", scripts)
	}
	if d.root["data-filter"] != "none" {
		t.Errorf("<html data-filter=%q>, want \"none\": the filter script did not run (blocked by the CSP?)", d.root["data-filter"])
	}

	want := []struct{ host, state, colour, text string }{
		{"db", "failed", "red", "last backup failed exit code 3: restic backup: exit 3 Fatal: unable to open config file: " + hostileValue + " [31m gnp.exe\uFFFD failed 1 h ago; last success 26 h ago"},
		{"web-1", "failed", "red", "last backup failed, 2 times in a row no exit code recorded, no message recorded"},
		{hostileHost, "overdue", "red", "no successful backup for 49 h"},
		{"graylog-1", "overdue", "amber", "no successful backup for 30 h"},
		{"metrics", "unknown", "grey", "never reported a backup"},
		{"new-host", "unknown", "grey", "never reported a backup"},
		{hostileQuote, "unknown", "grey", `status "` + hostileValue + `" not understood`},
		{"auth", "ok", "green", "2 h ago"},
		{hostileOK, "ok", "green", "5 min ago"},
		{"web-2", "ok", "green", "20 min ago"},
	}
	if len(d.tiles) != len(want) {
		t.Fatalf("got %d tiles, want %d", len(d.tiles), len(want))
	}
	for i, w := range want {
		g := d.tiles[i]
		if g.host != w.host || g.state != w.state || g.class != "tile "+w.colour || g.id != "host-"+w.host {
			t.Errorf("tile %d = {%q %s %q id %q}, want {%q %s %q id %q}", i, g.host, g.state, g.class, g.id, w.host, w.state, "tile "+w.colour, "host-"+w.host)
		}
		if !strings.HasPrefix(g.text, w.host+" ") || !strings.Contains(g.text, w.text) {
			t.Errorf("tile %d text %q, want the host %q and %q as text", i, g.text, w.host, w.text)
		}
	}
	if got, want := d.tiles[8].title, hostileOK+"\nrecord problem: host name: not allowed"; got != want {
		t.Errorf("small tile's title = %q, want %q", got, want)
	}
	page := text(d.doc)
	for _, s := range []string{
		"10 hosts: 2 failed, 2 overdue, 3 unknown, 3 ok.",
		"not reachable", hostileValue, "last complete refresh 10 min ago",
		"Restore test: The last restore test failed. Tested 40 d ago, restoring " + hostileValue + " in 47 min",
		"What failed: missing after restore: /etc/" + hostileHost,
		"This page reloads itself every 60 s.",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("page text lacks %q:\n%s", s, page)
		}
	}

	shot := screenshot(t, srv.URL+"/", 1024, 1400, "status-9.png")
	counts := countColours(shot, map[string]color.RGBA{
		"green": {0x2e, 0x7d, 0x32, 0xff},
		"amber": {0xff, 0xb3, 0x00, 0xff},
		"red":   {0xc6, 0x28, 0x28, 0xff},
		"grey":  {0x54, 0x6e, 0x7a, 0xff},
	})
	for name, n := range counts {
		// A tile is at least 14rem wide and three lines high.
		if n < 2000 {
			t.Errorf("screenshot has %d %s pixels, want a %s tile (at least 2000)", n, name, name)
		}
	}
}

// TestFilterInChromium: the filter box works by script (the server's
// hidden attributes removed, the script must hide the tiles itself) and
// without it (script disabled, the server's /?q= filter alone).
func TestFilterInChromium(t *testing.T) {
	snap := fleetOf(2, 3, 1, 29)
	h := New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: options().Now})
	// rewrite serves the page with its body or headers changed.
	rewrite := func(body func([]byte) []byte, csp string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			if csp != "" {
				w.Header().Set("Content-Security-Policy", csp)
			}
			b, _ := io.ReadAll(rec.Body)
			w.Write(body(b))
		})
	}
	mux := http.NewServeMux()
	// The server's hidden attributes removed: only the script can hide.
	mux.Handle("/unhidden/", http.StripPrefix("/unhidden", rewrite(func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte(" hidden>"), []byte(">"))
	}, "")))
	// No script may run (as in a browser with scripts off; Chromium's
	// --blink-settings=scriptEnabled=false also stops --dump-dom).
	mux.Handle("/noscript/", http.StripPrefix("/noscript", rewrite(func(b []byte) []byte { return b },
		"default-src 'none'; style-src 'unsafe-inline'")))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		name, url  string
		args       []string
		filter     string // <html data-filter>: "js" when the script filtered
		shownHosts []string
	}{
		{"script", srv.URL + "/unhidden/?q=0001", nil, "js", []string{"d-failed-0001", "c-overdue-0001", "a-ok-0001"}},
		{"script, case and spaces", srv.URL + "/unhidden/?q=+D-FAILED+", nil, "js", []string{"d-failed-0000", "d-failed-0001"}},
		{"no script", srv.URL + "/noscript/?q=0001", nil, "", []string{"d-failed-0001", "c-overdue-0001", "a-ok-0001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := parseDOM(t, runChromium(t, append(tt.args, "--dump-dom", tt.url)...))
			if d.root["data-filter"] != tt.filter {
				t.Errorf("<html data-filter=%q>, want %q", d.root["data-filter"], tt.filter)
			}
			var shown []string
			for _, tl := range d.tiles {
				if !tl.hidden {
					shown = append(shown, tl.host)
				}
			}
			if strings.Join(shown, " ") != strings.Join(tt.shownHosts, " ") || len(d.tiles) != 35 {
				t.Errorf("shown %v of %d tiles, want %v of 35", shown, len(d.tiles), tt.shownHosts)
			}
			if page := text(d.doc); !strings.Contains(page, "Showing "+strconv.Itoa(len(tt.shownHosts))+" of 35 hosts.") {
				t.Errorf("page does not say how many it shows:\n%s", page)
			}
		})
	}
}

// TestPageAtScaleInChromium: 5,000 hosts, 600 of them failed for one
// cause, render in Chromium, problems first, the first 100 of a state in
// full and the others small, and the top of the page shows the problems.
func TestPageAtScaleInChromium(t *testing.T) {
	snap := fleetOf(600, 150, 250, 4000)
	srv := httptest.NewServer(New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: options().Now}))
	defer srv.Close()
	d := parseDOM(t, runChromium(t, "--dump-dom", srv.URL+"/"))
	if len(d.tiles) != 5000 {
		t.Fatalf("%d tiles, want 5000", len(d.tiles))
	}
	for _, c := range []struct {
		i           int
		state, text string
	}{
		{0, "failed", "d-failed-0000 last backup failed exit code 1: Fatal: unable to open repository failed 1 h ago; last success 3 h ago"},
		{99, "failed", "d-failed-0099 last backup failed"},
		{100, "failed", "d-failed-0100 1 h ago"},
		{599, "failed", "d-failed-0599 1 h ago"},
		{600, "overdue", "c-overdue-0000 no successful backup for 30 h"},
		{700, "overdue", "c-overdue-0100 30 h ago"},
		{750, "unknown", "b-unknown-0000 never reported a backup"},
		{850, "unknown", "b-unknown-0100 never reported"},
		{1000, "ok", "a-ok-0000 2 h ago"},
	} {
		if g := d.tiles[c.i]; g.state != c.state || !strings.HasPrefix(g.text, c.text) {
			t.Errorf("tile %d = %s %q, want %s %q", c.i, g.state, g.text, c.state, c.text)
		}
	}
	if got, want := d.tiles[100].title, "d-failed-0100: last backup failed; exit code 1: Fatal: unable to open repository"; got != want {
		t.Errorf("small failed tile's title = %q, want %q", got, want)
	}
	page := text(d.doc)
	for _, s := range []string{"5000 hosts: 600 failed, 150 overdue, 250 unknown, 4000 ok.", "Failed (600)", "And 500 more, shown small"} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	shot := screenshot(t, srv.URL+"/", 1280, 1000, "status-5000.png")
	counts := countColours(shot, map[string]color.RGBA{"red": {0xc6, 0x28, 0x28, 0xff}, "green": {0x2e, 0x7d, 0x32, 0xff}})
	if counts["red"] < 20000 || counts["green"] > 1000 { // green: the summary's underline
		t.Errorf("the top of the 5,000-host page has %d red and %d green pixels, want the failed hosts only", counts["red"], counts["green"])
	}

	// A notification's link to a failed host among the small ones shows it
	// in full.
	d = parseDOM(t, runChromium(t, "--dump-dom", srv.URL+"/?q=d-failed-0450#host-d-failed-0450"))
	for _, tl := range d.tiles {
		if !tl.hidden && (tl.id != "host-d-failed-0450" || !strings.Contains(tl.text, "exit code 1: Fatal: unable to open repository")) {
			t.Errorf("/?q=d-failed-0450 shows tile %q %q, want only host-d-failed-0450 in full", tl.id, tl.text)
		}
	}
}

// screenshot takes one of url, keeping it under BACKUPWATCH_SCREENSHOTS
// when set (to look at), in the test's temporary directory otherwise.
func screenshot(t *testing.T, url string, w, h int, name string) image.Image {
	t.Helper()
	dir := os.Getenv("BACKUPWATCH_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, name)
	runChromium(t, "--screenshot="+shot, "--window-size="+strconv.Itoa(w)+","+strconv.Itoa(h), url)
	t.Logf("screenshot: %s", shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	return img
}

func countColours(img image.Image, want map[string]color.RGBA) map[string]int {
	counts := map[string]int{}
	for name := range want {
		counts[name] = 0
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			for name, w := range want {
				if near(c, w) {
					counts[name]++
				}
			}
		}
	}
	return counts
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) <= 2 && d(a.G, b.G) <= 2 && d(a.B, b.B) <= 2
}

// text is the text content of n, whitespace collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		if n.Type == html.ElementNode && (n.Data == "style" || n.Data == "script") {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	s := strings.Join(strings.Fields(b.String()), " ")
	return strings.NewReplacer(" ,", ",", " .", ".", " ;", ";", " :", ":").Replace(s)
}

// elementText is the text of the first element of body with attribute k.
func elementText(t *testing.T, body, k string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var found *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if found != nil {
			return
		}
		if _, ok := attrOK(n, k); ok && n.Type == html.ElementNode {
			found = n
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if found == nil {
		t.Fatalf("no element with %s in:\n%s", k, body)
	}
	return text(found)
}

// TestReloadInChromium: the page reloads itself, keeping the filter as
// it is in the box (typed since the page loaded, here written into the
// page by the test), not as it was in the URL.
func TestReloadInChromium(t *testing.T) {
	snap := fleetOf(1, 1, 1, 5)
	h := New(Options{Snapshot: func() *fleet.Snapshot { return snap }, Now: options().Now, Reload: 10 * time.Second})
	reloads := make(chan string, 100)
	var first atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if !first.CompareAndSwap(false, true) {
			// Later loads: a page that does not reload, so Chromium stops.
			reloads <- r.URL.RawQuery
			io.WriteString(w, "<!DOCTYPE html><title>reloaded</title><p>reloaded</p>")
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Write(bytes.ReplaceAll(rec.Body.Bytes(), []byte(`value="zzz"`), []byte(`value="a-ok-0001"`)))
	}))
	defer srv.Close()
	// Virtual time: the 10 s pass at once, no wall clock involved.
	runChromium(t, "--virtual-time-budget=30000", "--dump-dom", srv.URL+"/?q=zzz")
	close(reloads)
	var got []string
	for q := range reloads {
		got = append(got, q)
	}
	if len(got) == 0 || got[0] != "q=a-ok-0001" {
		t.Errorf("reloads requested %q, want a first one with q=a-ok-0001 (the filter in the box)", got)
	}
}
