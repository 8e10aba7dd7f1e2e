package report

import (
	"html/template"
	"io"
	"math"
	"time"
)

// htmlReport is the report as HTML: inline CSS only (mail clients drop
// style sheets and scripts), a bar per host for its share of successful
// runs, every value escaped by html/template.
var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"day":   day,
	"bytes": bytesText,
	"pct": func(ok, runs int) int {
		if runs == 0 {
			return 0
		}
		return int(math.Round(100 * float64(ok) / float64(runs)))
	},
	"sub":    func(a, b int) int { return a - b },
	"since":  func(now, t time.Time) string { return span(now.Sub(t)) },
	"growth": growth,
	"team":   teamName,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;color:#1a1a1a;max-width:50rem">
<h1 style="font-size:1.3rem">Backup report</h1>
<p>{{.Store}}<br>from {{day .Since}} to {{day .Now}}</p>
<p>{{if lt .Share 0.0}}No runs recorded in the period.{{else}}<strong>{{printf "%.1f" .Share}}%</strong> of {{.Runs}} runs succeeded ({{sub .Runs .Succeeded}} failed), {{len .Items}} hosts and jobs.{{end}}</p>
{{with .Teams}}<h2 style="font-size:1.1rem">Per team</h2>
<table style="border-collapse:collapse;font-size:.9rem" cellpadding="4">
<thead><tr><th align="left">Team</th><th align="left">Runs succeeded</th><th align="left">Need a look</th></tr></thead>
<tbody>
{{range .}}{{$p := pct .Succeeded .Runs}}<tr style="border-top:1px solid #ddd">
<td>{{team .Name}}</td>
<td>{{if .Runs}}<div style="width:10rem;height:.8rem;background:#c62828"><div style="width:{{$p}}%;height:.8rem;background:#2e7d32"></div></div>{{.Succeeded}} of {{.Runs}} ({{$p}}%){{else}}none{{end}}</td>
<td>{{if .NeedLook}}<strong style="color:#c62828">{{.NeedLook}}</strong>{{else}}0{{end}} of {{.Items}}</td>
</tr>
{{end}}</tbody></table>
<h2 style="font-size:1.1rem">Hosts and jobs</h2>
{{end}}<table style="border-collapse:collapse;font-size:.9rem" cellpadding="4">
<thead><tr><th align="left">Host or job</th><th align="left">Runs succeeded</th><th align="left">Now</th><th align="left">Size</th></tr></thead>
<tbody>
{{range .Items}}{{$p := pct (sub .Runs .Failed) .Runs}}<tr style="border-top:1px solid #ddd">
<td>{{.Name}}</td>
<td>{{if .Runs}}<div style="width:10rem;height:.8rem;background:#c62828"><div style="width:{{$p}}%;height:.8rem;background:#2e7d32"></div></div>{{sub .Runs .Failed}} of {{.Runs}}{{if .Failed}}: last failure {{day .LastFail}} {{.LastError}}{{end}}{{else}}none{{end}}</td>
<td>{{if .Overdue}}<strong style="color:#c62828">{{if .LastSuccess.IsZero}}never succeeded{{else}}no success for {{since $.Now .LastSuccess}}{{end}}</strong>{{else}}ok{{end}}</td>
<td>{{if ge .SizeLast 0}}{{bytes .SizeLast}} {{growth .SizeFirst .SizeLast}}{{end}}</td>
</tr>
{{end}}</tbody></table>
{{range .RestoreTests}}<p>Restore test{{with .Job}} {{.}}{{end}}: {{or .Result "-"}}, last {{or .LastTest "never"}}{{if .Overdue}}; <strong style="color:#c62828">due now</strong>{{end}}.</p>
{{else}}<p>Restore tests: none recorded.</p>
{{end}}</body></html>
`))

// WriteHTML writes the report as an HTML page that mail clients render.
func (r Report) WriteHTML(w io.Writer) error {
	return htmlReport.Execute(w, struct {
		Report
		Title string
		Share float64
	}{r, r.Title(), r.Share()})
}
