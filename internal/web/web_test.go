package web

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return testNow.Add(-d) }

func TestColour(t *testing.T) {
	tests := []struct {
		age  time.Duration
		want string
	}{
		{0, "green"},
		{89999 * time.Second, "green"},
		{90000 * time.Second, "amber"},
		{172799 * time.Second, "amber"},
		{172800 * time.Second, "red"},
		{56 * 365 * 24 * time.Hour, "red"},
	}
	for _, tt := range tests {
		if got := Colour(tt.age); got != tt.want {
			t.Errorf("Colour(%v) = %q, want %q", tt.age, got, tt.want)
		}
	}
}

func TestBuildOrder(t *testing.T) {
	snap := &fleet.Snapshot{Hosts: []status.Record{
		{Host: "a-fresh", Status: status.Success, LastSuccess: ago(time.Hour)},
		{Host: "b-old", Status: status.Success, LastSuccess: ago(30 * time.Hour)},
		{Host: "c-failed", Status: status.Failed, LastSuccess: ago(2 * time.Hour)},
		{Host: "d-unknown", Status: status.Unknown},
		{Host: "e-failed-never", Status: status.Failed},
		{Host: "f-oldest", Status: status.Success, LastSuccess: ago(50 * time.Hour)},
	}, LastSuccess: testNow}
	v := Build(snap, Options{Now: func() time.Time { return testNow }})
	var got []string
	for _, tl := range v.Tiles {
		got = append(got, tl.Host+"/"+tl.Colour)
	}
	want := []string{"e-failed-never/red", "c-failed/green", "d-unknown/red", "f-oldest/red", "b-old/amber", "a-fresh/green"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("tiles = %v, want %v", got, want)
	}
	if v.Failed != 2 || v.Unknown != 1 || v.Red != 3 || v.Amber != 1 || v.Green != 2 {
		t.Errorf("counts failed=%d unknown=%d red=%d amber=%d green=%d, want 2 1 3 1 2", v.Failed, v.Unknown, v.Red, v.Amber, v.Green)
	}
}

// TestFutureLastSuccess: a last success far in the future counts as never,
// as in backup_last_success_age_seconds, and the tile says why.
func TestFutureLastSuccess(t *testing.T) {
	snap := &fleet.Snapshot{Hosts: []status.Record{
		{Host: "fast-clock", Status: status.Success, LastSuccess: testNow.Add(time.Hour)},
		{Host: "year-2036", Status: status.Success, LastSuccess: testNow.AddDate(10, 0, 0)},
	}, RestoreTest: &status.RestoreTest{Result: status.Passed, LastTest: testNow.AddDate(1, 0, 0)}, LastSuccess: testNow}
	v := Build(snap, Options{Now: func() time.Time { return testNow }})
	tiles := map[string]Tile{}
	for _, tl := range v.Tiles {
		tiles[tl.Host] = tl
	}
	tests := []struct {
		host, colour, age string
		ageSeconds        int64
	}{
		{"fast-clock", "green", "1h 0m in the future", -3600},
		{"year-2036", "red", "counted as never", testNow.Unix()},
	}
	for _, tt := range tests {
		tl := tiles[tt.host]
		if tl.Colour != tt.colour || tl.AgeSeconds != tt.ageSeconds || !strings.Contains(tl.Age, tt.age) {
			t.Errorf("%s: colour %q, age %d %q; want %q, %d, containing %q", tt.host, tl.Colour, tl.AgeSeconds, tl.Age, tt.colour, tt.ageSeconds, tt.age)
		}
	}
	if v.Restore.AgeSeconds != testNow.Unix() || !strings.Contains(v.Restore.Age, "counted as never") {
		t.Errorf("restore test a year ahead: age %d %q, want %d, counted as never", v.Restore.AgeSeconds, v.Restore.Age, testNow.Unix())
	}
}

func TestHandlerRoutes(t *testing.T) {
	h := New(Options{Snapshot: func() *fleet.Snapshot { return nil }})
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200},
		{"HEAD", "/", 200},
		{"POST", "/", 405},
		{"GET", "/favicon.ico", 404},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.want {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.want)
		}
	}
}

// hostile strings, as a store could hold them in host names and values.
const (
	hostileHost  = `<script>alert("host")</script>`
	hostileQuote = `x" onmouseover="alert(1)`
	hostileValue = `<img src=x onerror=alert('value')>`
)

func hostileSnapshot() *fleet.Snapshot {
	mins := 47.0
	return &fleet.Snapshot{
		Hosts: []status.Record{
			{Host: "auth", Status: status.Success, LastSuccess: ago(2 * time.Hour)},
			{Host: "db", Status: status.Failed, LastSuccess: ago(26 * time.Hour), LastFailure: ago(time.Hour), Message: hostileValue},
			{Host: "graylog-1", Status: status.Success, LastSuccess: ago(30 * time.Hour)},
			{Host: "metrics", Status: status.Unknown, Problems: []string{"no record"}},
			{Host: hostileHost, Status: status.Success, LastSuccess: ago(49 * time.Hour), Problems: []string{`host name "` + hostileHost + `": character '<' is not allowed`}},
			{Host: hostileQuote, Status: status.Unknown, Problems: []string{"status: unrecognised value " + hostileValue}},
		},
		RestoreTest: &status.RestoreTest{LastTest: ago(40 * 24 * time.Hour), Result: status.Failed, HostTested: hostileValue, TimeToRestoreMinutes: &mins, Notes: hostileHost},
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

// TestPageInChromium loads the page in a real headless Chromium, checks
// the tiles and colours in the DOM it built, that no hostile value became
// markup, and that a screenshot shows the tile colours.
func TestPageInChromium(t *testing.T) {
	snap := hostileSnapshot()
	srv := httptest.NewServer(New(Options{
		Snapshot: func() *fleet.Snapshot { return snap },
		Store:    "vault http://127.0.0.1:8200 kv/golemtrust/backup-status",
		Now:      func() time.Time { return testNow },
	}))
	defer srv.Close()

	dom := runChromium(t, "--dump-dom", srv.URL+"/")
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatalf("parse the DOM chromium dumped: %v", err)
	}

	type tile struct{ host, status, colour, text string }
	var tiles []tile
	var elements []string
	attr := func(n *html.Node, k string) string {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val
			}
		}
		return ""
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			elements = append(elements, n.Data)
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("element <%s> has an event handler attribute %s=%q: a value was not escaped", n.Data, a.Key, a.Val)
				}
			}
			if n.Data == "li" && strings.Contains(attr(n, "class"), "tile") {
				tiles = append(tiles, tile{attr(n, "data-host"), attr(n, "data-status"), attr(n, "data-colour"), text(n)})
				if !strings.Contains(attr(n, "class"), attr(n, "data-colour")) {
					t.Errorf("tile %q: class %q does not carry its colour %q", attr(n, "data-host"), attr(n, "class"), attr(n, "data-colour"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)

	for _, e := range elements {
		if e == "script" || e == "img" {
			t.Errorf("the page has a <%s> element: a hostile value became markup", e)
		}
	}
	want := []tile{
		{"db", "failed", "amber", ""},
		{"metrics", "unknown", "red", ""},
		{hostileQuote, "unknown", "red", ""},
		{hostileHost, "success", "red", ""},
		{"graylog-1", "success", "amber", ""},
		{"auth", "success", "green", ""},
	}
	if len(tiles) != len(want) {
		t.Fatalf("got %d tiles, want %d:\n%s", len(tiles), len(want), dom)
	}
	for i, w := range want {
		g := tiles[i]
		if g.host != w.host || g.status != w.status || g.colour != w.colour {
			t.Errorf("tile %d = {%q %s %s}, want {%q %s %s}", i, g.host, g.status, g.colour, w.host, w.status, w.colour)
		}
		if !strings.Contains(g.text, w.host) {
			t.Errorf("tile %d text %q does not show the host name %q as text", i, g.text, w.host)
		}
	}
	page := text(doc)
	for _, s := range []string{"not reachable", hostileValue, "40d 0h ago", "restoring " + hostileValue, "47m", "failed"} {
		if !strings.Contains(page, s) {
			t.Errorf("page text lacks %q", s)
		}
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	runChromium(t, "--screenshot="+shot, "--window-size=1024,1600", srv.URL+"/")
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
	counts := countColours(img, map[string]color.RGBA{
		"green": {0x2e, 0x7d, 0x32, 0xff},
		"amber": {0xff, 0xb3, 0x00, 0xff},
		"red":   {0xc6, 0x28, 0x28, 0xff},
	})
	for name, n := range counts {
		// A tile is at least 11rem wide and 5.5rem high: thousands of pixels.
		if n < 2000 {
			t.Errorf("screenshot has %d %s pixels, want a %s tile (at least 2000)", n, name, name)
		}
	}
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
		if n.Type == html.ElementNode && n.Data == "style" {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func TestPageBeforeFirstRefresh(t *testing.T) {
	h := New(Options{Snapshot: func() *fleet.Snapshot { return nil }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	if !strings.Contains(body, `data-store="starting"`) {
		t.Errorf("page before the first refresh does not say so:\n%s", body)
	}
	if !strings.Contains(body, `http-equiv="refresh"`) {
		t.Errorf("page does not reload itself:\n%s", body)
	}
}
