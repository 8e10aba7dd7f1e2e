package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Grafana's dashboard linter (github.com/grafana/dashboard-linter) cannot
// be had here: the Go module proxy refuses it (403 for its version list,
// so neither `go install ...@latest` nor a pinned version works). This
// file checks the committed dashboard against the rules of its default
// rule set, written from its documentation, plus backupwatch's own
// convention that a host never shows twice. Each subtest is named after
// the linter rule it stands for.

type lintDashboard struct {
	Title      string      `json:"title"`
	Panels     []lintPanel `json:"panels"`
	Templating struct {
		List []lintVariable `json:"list"`
	} `json:"templating"`
}

type lintRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type lintVariable struct {
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	Label      string   `json:"label"`
	Query      any      `json:"query"`
	Datasource *lintRef `json:"datasource"`
	Multi      bool     `json:"multi"`
	IncludeAll bool     `json:"includeAll"`
	AllValue   string   `json:"allValue"`
	Refresh    int      `json:"refresh"`
}

type lintPanel struct {
	Type        string   `json:"type"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Datasource  *lintRef `json:"datasource"`
	Targets     []struct {
		Expr         string   `json:"expr"`
		LegendFormat string   `json:"legendFormat"`
		Datasource   *lintRef `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

func readLintDashboard(t *testing.T) lintDashboard {
	t.Helper()
	raw, err := os.ReadFile(defaultOutput)
	if err != nil {
		t.Fatal(err)
	}
	var d lintDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d lintDashboard) variable(name string) *lintVariable {
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}

// queryPanels are the panels that are not rows.
func (d lintDashboard) queryPanels() []lintPanel {
	var out []lintPanel
	for _, p := range d.Panels {
		if p.Type != "row" {
			out = append(out, p)
		}
	}
	return out
}

// isTemplatedDatasource: the linter accepts $datasource and ${datasource}.
func isTemplatedDatasource(r *lintRef) bool {
	return r != nil && (r.UID == "$datasource" || r.UID == "${datasource}")
}

// Grafana's interval variables, replaced by a duration before parsing (as
// Grafana does); rateInterval marks $__rate_interval.
const rateInterval = 8869 * time.Millisecond

var intervalVars = strings.NewReplacer(
	"$__rate_interval", "8869ms", "${__rate_interval}", "8869ms",
	"$__interval", "1m", "${__interval}", "1m",
	"$__range", "1d", "${__range}", "1d",
)

func parsePromQL(expr string) (parser.Expr, error) {
	return parser.NewParser(parser.Options{}).ParseExpr(intervalVars.Replace(expr))
}

// unitsKnown are Grafana's unit ids this dashboard may use (a subset of
// the linter's list of every valid one).
var unitsKnown = []string{"none", "short", "percent", "percentunit", "s", "ms", "m", "h", "d",
	"dtdurations", "dtdurationms", "dateTimeAsIso", "dateTimeFromNow", "bytes", "decbytes", "bool"}

func TestDashboardLint(t *testing.T) {
	d := readLintDashboard(t)
	panels := d.queryPanels()
	if len(panels) == 0 {
		t.Fatal("no panels")
	}

	t.Run("template-datasource-rule", func(t *testing.T) {
		var ds []lintVariable
		for _, v := range d.Templating.List {
			if v.Type == "datasource" {
				ds = append(ds, v)
			}
		}
		if len(ds) != 1 {
			t.Fatalf("%d datasource variables, want 1", len(ds))
		}
		if ds[0].Name != "datasource" || ds[0].Label != "Data source" || ds[0].Query != "prometheus" {
			t.Errorf("datasource variable %q labelled %q of %v: want datasource, \"Data source\", prometheus", ds[0].Name, ds[0].Label, ds[0].Query)
		}
	})

	for _, name := range []string{"job", "instance"} {
		t.Run("template-"+name+"-rule", func(t *testing.T) {
			v := d.variable(name)
			if v == nil {
				t.Fatalf("no %s variable", name)
			}
			label := strings.ToUpper(name[:1]) + name[1:]
			if v.Type != "query" || !isTemplatedDatasource(v.Datasource) || v.Label != label || !v.Multi || !v.IncludeAll || v.AllValue != ".+" {
				t.Errorf("%s variable: type %q, datasource %v, label %q, multi %v, includeAll %v, allValue %q; want query, $datasource, %q, multi, includeAll, .+",
					name, v.Type, v.Datasource, v.Label, v.Multi, v.IncludeAll, v.AllValue, label)
			}
		})
	}

	t.Run("template-label-promql-rule", func(t *testing.T) {
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q, _ := v.Query.(string)
			inner, ok := strings.CutPrefix(q, "label_values(")
			i := strings.LastIndex(inner, ",")
			if !ok || i < 0 || !strings.HasSuffix(inner, ")") {
				t.Errorf("variable %s: query %q is not label_values(<selector>, <label>)", v.Name, q)
				continue
			}
			if _, err := parsePromQL(inner[:i]); err != nil {
				t.Errorf("variable %s: %q: %v", v.Name, inner[:i], err)
			}
		}
	})

	t.Run("template-on-time-change-reload-rule", func(t *testing.T) {
		for _, v := range d.Templating.List {
			if v.Type == "query" && v.Refresh != 2 {
				t.Errorf("variable %s: refresh %d, want 2 (on time range change)", v.Name, v.Refresh)
			}
		}
	})

	for _, p := range panels {
		t.Run("panel/"+p.Title, func(t *testing.T) {
			// panel-datasource-rule
			if !isTemplatedDatasource(p.Datasource) {
				t.Errorf("panel-datasource-rule: datasource %v, want ${datasource}", p.Datasource)
			}
			// panel-title-description-rule
			if strings.TrimSpace(p.Title) == "" || strings.TrimSpace(p.Description) == "" {
				t.Errorf("panel-title-description-rule: title %q, description %q: both needed", p.Title, p.Description)
			}
			// panel-units-rule
			if !slices.Contains(unitsKnown, p.FieldConfig.Defaults.Unit) {
				t.Errorf("panel-units-rule: unit %q is none of Grafana's units %v", p.FieldConfig.Defaults.Unit, unitsKnown)
			}
			// panel-no-targets-rule
			if len(p.Targets) == 0 {
				t.Fatalf("panel-no-targets-rule: no targets")
			}
			for i, tg := range p.Targets {
				if tg.Datasource != nil && !isTemplatedDatasource(tg.Datasource) {
					t.Errorf("target %d: datasource %v, want ${datasource}", i, tg.Datasource)
				}
				expr, err := parsePromQL(tg.Expr)
				if err != nil { // target-promql-rule
					t.Errorf("target-promql-rule: target %d: %q: %v", i, tg.Expr, err)
					continue
				}
				for _, problem := range lintExpr(expr, tg.LegendFormat) {
					t.Errorf("target %d %q: %s", i, tg.Expr, problem)
				}
			}
		})
	}
}

// lintExpr applies the linter's target rules and the host convention to
// one parsed query.
func lintExpr(expr parser.Expr, legend string) []string {
	var problems []string
	rangeFuncs := map[string]bool{"rate": true, "irate": true, "increase": true}
	parser.Inspect(expr, func(node parser.Node, path []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			// target-job-rule, target-instance-rule
			for _, want := range []string{"job", "instance"} {
				if !hasMatcher(n.LabelMatchers, want, labels.MatchRegexp, "$"+want) {
					problems = append(problems, fmt.Sprintf("target-%s-rule: selector %s has no %s=~\"$%s\"", want, n, want, want))
				}
			}
			// target-counter-agg-rule: a counter only through rate().
			if strings.HasSuffix(n.Name, "_total") && !insideCall(path, rangeFuncs) {
				problems = append(problems, fmt.Sprintf("target-counter-agg-rule: counter %s is not inside rate/irate/increase", n.Name))
			}
			// The host convention: every series is aggregated, by at most
			// host or instance, so that two targets exporting one host
			// (two exporters; an exporter and a textfile) show it once.
			agg := nearestAggregation(path)
			if agg == nil {
				problems = append(problems, fmt.Sprintf("selector %s is not aggregated (max by (host), min by (instance), ...): a host exported by two targets would show twice", n))
			} else if perJob := slices.Equal(agg.Grouping, []string{"host", "backup_job"}); agg.Without || (len(agg.Grouping) > 1 && !perJob) || (len(agg.Grouping) == 1 && agg.Grouping[0] != "host" && agg.Grouping[0] != "instance") {
				problems = append(problems, fmt.Sprintf("selector %s is aggregated %s, want by (host), by (host, backup_job) (a job), by (instance) or nothing", n, agg.Grouping))
			}
		case *parser.Call:
			// target-rate-interval-rule
			if rangeFuncs[n.Func.Name] {
				for _, a := range n.Args {
					if m, ok := a.(*parser.MatrixSelector); ok && m.Range != rateInterval {
						problems = append(problems, fmt.Sprintf("target-rate-interval-rule: %s over %s, want [$__rate_interval]", n.Func.Name, m.Range))
					}
				}
			}
		}
		return nil
	})
	// A legend naming a label the aggregation removed would be empty.
	if top, ok := unparen(expr).(*parser.AggregateExpr); ok {
		for _, l := range []string{"host", "instance", "job"} {
			if strings.Contains(legend, "{{"+l+"}}") && !slices.Contains(top.Grouping, l) {
				problems = append(problems, fmt.Sprintf("legend %q names %s, which %s drops", legend, l, top.Op))
			}
		}
	}
	return problems
}

func hasMatcher(ms []*labels.Matcher, name string, typ labels.MatchType, value string) bool {
	for _, m := range ms {
		if m.Name == name && m.Type == typ && m.Value == value {
			return true
		}
	}
	return false
}

func insideCall(path []parser.Node, funcs map[string]bool) bool {
	for _, n := range path {
		if c, ok := n.(*parser.Call); ok && funcs[c.Func.Name] {
			return true
		}
	}
	return false
}

func nearestAggregation(path []parser.Node) *parser.AggregateExpr {
	for i := len(path) - 1; i >= 0; i-- {
		if a, ok := path[i].(*parser.AggregateExpr); ok {
			return a
		}
	}
	return nil
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// TestLintCatches: the checks above find what they are for.
func TestLintCatches(t *testing.T) {
	tests := []struct {
		expr, legend, want string // want: part of a problem; "" for none
	}{
		{`max by (host) (backup_status{job=~"$job",instance=~"$instance"})`, "{{host}}", ""},
		{`backup_last_success_age_seconds{job=~"$job",instance=~"$instance"}`, "{{host}}", "not aggregated"},
		{`max by (host) (backup_status{instance=~"$instance"})`, "{{host}}", "target-job-rule"},
		{`max by (host) (backup_status{job=~"$job"})`, "{{host}}", "target-instance-rule"},
		{`max by (host, instance) (backup_status{job=~"$job",instance=~"$instance"})`, "{{host}}", "aggregated"},
		{`max(backup_status{job=~"$job",instance=~"$instance"})`, "{{host}}", "drops"},
		{`sum(backupwatch_refreshes_total{job=~"$job",instance=~"$instance"})`, "", "target-counter-agg-rule"},
		{`sum(rate(backupwatch_refreshes_total{job=~"$job",instance=~"$instance"}[5m]))`, "", "target-rate-interval-rule"},
		{`sum(rate(backupwatch_refreshes_total{job=~"$job",instance=~"$instance"}[$__rate_interval]))`, "", ""},
	}
	for _, tt := range tests {
		e, err := parsePromQL(tt.expr)
		if err != nil {
			t.Fatalf("%q: %v", tt.expr, err)
		}
		got := strings.Join(lintExpr(e, tt.legend), "; ")
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("lintExpr(%q) = %q, want a problem containing %q", tt.expr, got, tt.want)
		}
	}
}
