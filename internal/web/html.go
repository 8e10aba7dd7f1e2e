package web

import (
	"html/template"
	"strings"
)

// compact renders small tiles: host and one time (the last failure for a
// failed host, the last success otherwise), details on hover.
// Every value is escaped (quotes included, so attributes are safe) and was
// made one clean line by tile.
func compact(tiles []Tile) template.HTML {
	var b strings.Builder
	b.Grow(len(tiles) * 200)
	e := template.HTMLEscapeString
	for i := range tiles {
		t := &tiles[i]
		host := e(t.Host)
		b.WriteString(`<li class="tile `)
		b.WriteString(e(t.Colour))
		b.WriteString(`" id="`)
		b.WriteString(e(t.ID))
		b.WriteString(`" data-host="`)
		b.WriteString(host)
		b.WriteString(`" data-state="`)
		b.WriteString(e(t.State))
		b.WriteString(`"`)
		b.WriteString(` title="`)
		b.WriteString(host)
		if t.Job != "" {
			b.WriteString(" job " + e(t.Job))
		}
		if t.State != OK {
			b.WriteString(": ")
			b.WriteString(e(t.Headline))
			if t.State == Failed {
				b.WriteString(e("; " + t.Why()))
			}
		}
		if t.Paused != "" {
			b.WriteString("&#10;")
			b.WriteString(e(t.Paused))
		}
		if p := t.Points; p != nil {
			b.WriteString("&#10;")
			b.WriteString(e(p.Text()))
		}
		for _, p := range t.Problems {
			b.WriteString("&#10;record problem: ")
			b.WriteString(e(p))
		}
		b.WriteString(`"`)
		if t.Hidden {
			b.WriteString(` hidden`)
		}
		b.WriteString(`><span class="host">`)
		b.WriteString(host)
		if t.Job != "" {
			b.WriteString(` <span class="job">job `)
			b.WriteString(e(t.Job))
			b.WriteString(`</span>`)
		}
		b.WriteString(`</span> `)
		switch {
		case t.State == Failed:
			b.WriteString(string(t.LastFailure.HTML()))
		case t.Short != "":
			b.WriteString(e(t.Short))
		case t.State == Unknown:
			b.WriteString("unknown")
		default:
			b.WriteString(string(t.LastSuccess.HTML()))
		}
		b.WriteString("</li>\n")
	}
	return template.HTML(b.String())
}

// HTML is the time as a <time> element, or "never". Built here rather than
// in the template: it is on every tile, and its parts are all ours (digits,
// letters, spaces), escaped all the same.
func (w When) HTML() template.HTML {
	if w.Rel == "" {
		return "never"
	}
	e := template.HTMLEscapeString
	return template.HTML(`<time datetime="` + e(w.ISO) + `" title="` + e(w.Abs) + `">` + e(w.Rel) + `</time>`)
}
