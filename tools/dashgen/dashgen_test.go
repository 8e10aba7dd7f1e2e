package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestCommittedDashboardIsGenerated fails when deploy/grafana/backupwatch.json
// is not byte for byte what the code builds: edit dashboard.go and run
// `go run .` in tools/dashgen, never the JSON by hand.
func TestCommittedDashboardIsGenerated(t *testing.T) {
	want, err := Render()
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	got, err := os.ReadFile(defaultOutput)
	if err != nil {
		t.Fatalf("read the committed dashboard: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what dashgen builds (%d vs %d bytes): run `cd tools/dashgen && go run .` and commit the result", defaultOutput, len(got), len(want))
	}
}

// TestRunWritesTheFile checks that `go run .` regenerates the file.
func TestRunWritesTheFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dash.json")
	if err := run(out); err != nil {
		t.Fatalf("run: %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Render()
	if !bytes.Equal(got, want) {
		t.Errorf("run(%q) wrote %d bytes, Render gives %d", out, len(got), len(want))
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o644); got != want {
		t.Errorf("mode of the written file: got %v, want %v (Grafana runs as another user)", got, want)
	}
}

// TestDashboardMatchesSchema reads the committed file back with the SDK's
// strict decoder (unknown fields are errors) and validates it against
// Grafana's dashboard schema as the SDK encodes it.
func TestDashboardMatchesSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile(defaultOutput)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard.Dashboard
	if err := sdkErr(d.UnmarshalJSONStrict(raw)); err != nil {
		t.Fatalf("strict decode of %s: %v", defaultOutput, err)
	}
	if err := sdkErr(d.Validate()); err != nil {
		t.Fatalf("validate %s: %v", defaultOutput, err)
	}
	if d.Uid == nil || *d.Uid != UID {
		t.Errorf("uid: got %v, want %q", d.Uid, UID)
	}
}

// TestRunbookPanel checks the runbook's panel: Stat, one value per host from
// backup_last_success_age_seconds, unit duration, green from 0, amber from
// 90,000, red from 172,800. The runbook's literal query was the bare
// metric; it is now runbookQuery: the same value per host, aggregated so a
// host scraped through two targets shows once (the older age), on the
// dashboard's job and instance variables.
func TestRunbookPanel(t *testing.T) {
	raw, err := os.ReadFile(defaultOutput)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr         string `json:"expr"`
				LegendFormat string `json:"legendFormat"`
			} `json:"targets"`
			FieldConfig struct {
				Defaults struct {
					Unit       string `json:"unit"`
					Thresholds struct {
						Mode  string `json:"mode"`
						Steps []struct {
							Value *float64 `json:"value"`
							Color string   `json:"color"`
						} `json:"steps"`
					} `json:"thresholds"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Options struct {
				ReduceOptions struct {
					Values bool `json:"values"`
				} `json:"reduceOptions"`
			} `json:"options"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	var found int
	for _, p := range d.Panels {
		if len(p.Targets) != 1 || !strings.Contains(p.Targets[0].Expr, "backup_last_success_age_seconds") {
			continue
		}
		if got := p.Targets[0].Expr; got != runbookQuery {
			t.Errorf("panel %q: query %q, want %q", p.Title, got, runbookQuery)
		}
		found++
		if p.Type != "stat" {
			t.Errorf("panel %q: type %q, want stat", p.Title, p.Type)
		}
		if got := p.Targets[0].LegendFormat; got != "{{host}}" {
			t.Errorf("panel %q: legend %q, want {{host}} (one value per host)", p.Title, got)
		}
		if p.Options.ReduceOptions.Values {
			t.Errorf("panel %q: reduceOptions.values is true: want one reduced value per series (host)", p.Title)
		}
		if got := p.FieldConfig.Defaults.Unit; got != "dtdurations" {
			t.Errorf("panel %q: unit %q, want dtdurations (duration)", p.Title, got)
		}
		th := p.FieldConfig.Defaults.Thresholds
		if th.Mode != "absolute" {
			t.Errorf("panel %q: thresholds mode %q, want absolute", p.Title, th.Mode)
		}
		type step struct {
			value string
			color string
		}
		var got []step
		for _, s := range th.Steps {
			v := "base"
			if s.Value != nil {
				v = json.Number(jsonNum(*s.Value)).String()
			}
			got = append(got, step{v, s.Color})
		}
		want := []step{{"base", "green"}, {"90000", "orange"}, {"172800", "red"}}
		if len(got) != len(want) {
			t.Fatalf("panel %q: thresholds %v, want %v", p.Title, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("panel %q: threshold %d: got %v, want %v", p.Title, i, got[i], want[i])
			}
		}
	}
	if found != 1 {
		t.Errorf("panels querying backup_last_success_age_seconds: got %d, want 1", found)
	}
}

// runbookQuery is the runbook panel's query: its
// backup_last_success_age_seconds, the highest value per host.
const runbookQuery = `max by (host) (backup_last_success_age_seconds{job=~"$job",instance=~"$instance",backup_job=""})`

// sdkErr turns the SDK's empty cog.BuildErrors, which it returns as a
// non-nil error, into nil.
func sdkErr(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

func jsonNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
