package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
)

// UID is the dashboard's fixed uid, so links and re-provisioning keep
// pointing at the same dashboard.
const UID = "backupwatch-backups"

// The runbook's panel thresholds, in seconds: green under 25 hours, amber
// from 25 hours, red from 48 hours.
const (
	amberAfter = 90000
	redAfter   = 172800
)

// restoreTestOverdue is the runbook's 90 days (RestoreTestOverdue).
const restoreTestOverdue = 7776000

// datasource is the dashboard variable every query goes through, so the
// provisioned dashboard works whatever the site named its Prometheus.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// targets is the selector every query carries: the job and instance
// variables (Grafana's dashboard conventions), both "All" (.+) by default.
const targets = `job=~"$job",instance=~"$instance"`

// sel is a selector of metric with the job and instance matchers and any
// further ones.
func sel(metric string, matchers ...string) string {
	return metric + "{" + strings.Join(append([]string{targets}, matchers...), ",") + "}"
}

// Queries are aggregated so that a host (or the restore test) shows once
// whatever scrapes it: two exporters reading one store, or an exporter
// beside a textfile during a migration, export the same host twice with
// different job/instance labels. Per host: the worst value (max of an
// age, of a failed or unknown status; min of "passed"). Per target: by
// instance.

// targetVariable is the job or instance variable: a Prometheus query of
// the targets that export backupwatch's metrics (serve, or node_exporter
// in textfile mode: both export backupwatch_hosts), multi select, All by
// default.
func targetVariable(name, query string) *dashboard.QueryVariableBuilder {
	all := "All"
	return dashboard.NewQueryVariableBuilder(name).
		Label(strings.ToUpper(name[:1]) + name[1:]).
		Datasource(datasource).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".+").
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{all}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}

// Render returns the dashboard as the JSON file Grafana provisions:
// indented, with a final newline, identical on every run.
func Render() ([]byte, error) {
	d, err := Build()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode dashboard: %w", err)
	}
	return append(b, '\n'), nil
}

// Build builds the backup dashboard: the runbook's Stat panel first, then
// the restore test, the failed and unknown hosts, and the exporter's health.
func Build() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("Backups").
		Uid(UID).
		Description("Backup health from backupwatch (kv/golemtrust/backup-status): the runbook's panel, restore tests, and whether the monitoring itself works.").
		Tags([]string{"backup", "backupwatch", "restic"}).
		Refresh("1m").
		Time("now-24h", "now").
		Timezone(common.TimeZoneBrowser).
		Readonly().
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus")).
		WithVariable(targetVariable("job", `label_values(backupwatch_hosts, job)`)).
		WithVariable(targetVariable("instance", `label_values(backupwatch_hosts{job=~"$job"}, instance)`)).
		WithRow(dashboard.NewRowBuilder("Backups").GridPos(pos(0, 0, 24, 1))).
		WithPanel(lastSuccessAge()).
		WithRow(dashboard.NewRowBuilder("Restore test and hosts needing attention").GridPos(pos(0, 9, 24, 1))).
		WithPanel(restoreTestAge()).
		WithPanel(restoreTestResult()).
		WithPanel(hostsWithStatus("Failed backups", "failed", "red",
			"Hosts whose most recent backup attempt failed (BackupFailed).")).
		WithPanel(hostsWithStatus("Backup status unknown", "unknown", "orange",
			"Hosts with no readable backup status (BackupStatusUnknown fires after 1h).")).
		WithRow(dashboard.NewRowBuilder("Monitoring health").GridPos(pos(0, 16, 24, 1))).
		// Only the targets that exported backupwatch's metrics within a
		// day: a job variable of All (.+) would otherwise list every
		// target of Prometheus, and a target that is down has none now.
		WithPanel(upDown("Scrape targets",
			`min by (instance) (up{`+targets+`} and on(job, instance) last_over_time(`+sel("backupwatch_hosts")+`[1d]))`,
			pos(0, 17, 4, 4),
			"Prometheus can scrape the target: backupwatch serve (job backupwatch) or, in textfile mode, node_exporter. BackupExporterDown fires after 5 minutes down.")).
		WithPanel(upDown("Vault store", `min by (instance) (`+sel("backupwatch_store_up")+`)`, pos(4, 17, 4, 4),
			"The exporter's last refresh read every record from Vault KV.")).
		WithPanel(sinceRefresh()).
		WithPanel(count("Record problems",
			`sum(max by (host) (`+sel("backupwatch_record_problems")+`)) + max(`+sel("backupwatch_store_problems")+`)`,
			pos(12, 17, 4, 4),
			"Diagnostics for unreadable or odd records and store-level problems; the status page lists them.")).
		WithPanel(count("Hosts exported", `max(`+sel("backupwatch_hosts")+`)`, pos(16, 17, 4, 4),
			"Hosts the exporter reports on (the most any selected target exports). BackupMetricsIncomplete fires when fewer reach Prometheus.")).
		WithPanel(textfileAge()).
		WithRow(dashboard.NewRowBuilder("Jobs").GridPos(pos(0, 21, 24, 1))).
		WithPanel(jobsDue())
	return b.Build()
}

// jobsDue is one value per job (`--job`, backup_job label): the time left
// until its next success is due, from backup_deadline_timestamp_seconds
// (its own schedule and grace, the runbook's 24 hours without one); red
// once past (BackupOverdue, or BackupNotRunIn24Hours without a schedule),
// amber in its last hour. Per job the earliest deadline of the targets.
func jobsDue() *stat.PanelBuilder {
	return statPanel(
		"Time until each job is due",
		"Per job (host and backup_job): how long until its next successful backup is due under its own schedule; negative and red once overdue. A deadline of 0 (never succeeded) shows as far overdue.",
		pos(0, 22, 24, 8),
		query(`min by (host, backup_job) (`+sel("backup_deadline_timestamp_seconds", `backup_job!=""`)+`) - time()`, "{{host}} {{backup_job}}"),
	).
		Unit("dtdurations").
		NoValue("no jobs").
		Thresholds(thresholds(step(nil, "red"), step(f(0), "orange"), step(f(3600), "green"))).
		TextMode(common.BigValueTextModeValueAndName).
		JustifyMode(common.BigValueJustifyModeAuto).
		Orientation(common.VizOrientationAuto)
}

// lastSuccessAge is the runbook's panel: Stat, one value per host from
// backup_last_success_age_seconds, green/amber/red at 25 and 48 hours.
// The runbook's query was the bare `backup_last_success_age_seconds`; it is
// now `max by (host)` of it on the job and instance variables, so that a
// host scraped through two targets is one value, the older age (the one
// its thresholds warn about), not two tiles; and it keeps to the host's own
// record (backup_job=""), the runbook's: a job with its own schedule (a
// weekly one) is judged by its deadline (BackupOverdue), not by these
// 25/48-hour thresholds. Per host and thresholds are the runbook's.
func lastSuccessAge() *stat.PanelBuilder {
	return statPanel(
		"Time since last successful backup",
		"Per host: green under 25 hours, amber from 25 hours (90,000 s), red from 48 hours (172,800 s). BackupNotRunIn24Hours fires past 24 hours.",
		pos(0, 1, 24, 8),
		query(`max by (host) (`+sel("backup_last_success_age_seconds", `backup_job=""`)+`)`, "{{host}}"),
	).
		Unit("dtdurations").
		Thresholds(thresholds(step(nil, "green"), step(f(amberAfter), "orange"), step(f(redAfter), "red"))).
		TextMode(common.BigValueTextModeValueAndName).
		JustifyMode(common.BigValueJustifyModeAuto).
		Orientation(common.VizOrientationAuto)
}

func restoreTestAge() *stat.PanelBuilder {
	return statPanel(
		"Last restore test",
		"Age of the last restore test; RestoreTestOverdue fires past 90 days.",
		pos(0, 10, 6, 6),
		query(`max(`+sel("backup_restore_test_age_seconds")+`)`, "age"),
	).
		Unit("dtdurations").
		Thresholds(thresholds(step(nil, "green"), step(f(restoreTestOverdue*80/90), "orange"), step(f(restoreTestOverdue), "red"))).
		TextMode(common.BigValueTextModeValue)
}

func restoreTestResult() *stat.PanelBuilder {
	return statPanel(
		"Restore test result",
		"Result of the last restore test; RestoreTestFailed fires unless it passed.",
		pos(6, 10, 6, 6),
		query(`min(`+sel("backup_restore_test_passed")+`)`, "result"),
	).
		Unit("none").
		Mappings([]dashboard.ValueMapping{valueMap(map[string][2]string{
			"1": {"passed", "green"},
			"0": {"NOT PASSED", "red"},
		})}).
		NoValue("no restore test recorded").
		Thresholds(thresholds(step(nil, "red"), step(f(1), "green"))).
		TextMode(common.BigValueTextModeValue)
}

// hostsWithStatus shows one tile per host in the given status, "none" otherwise.
func hostsWithStatus(title, status, color, desc string) *stat.PanelBuilder {
	x := uint32(12)
	if status == "unknown" {
		x = 18
	}
	return statPanel(
		title,
		desc,
		pos(x, 10, 6, 6),
		query(fmt.Sprintf(`max by (host) (%s) == 1`, sel("backup_status", fmt.Sprintf("status=%q", status))), "{{host}}"),
	).
		Unit("none").
		NoValue("none").
		Thresholds(thresholds(step(nil, "green"), step(f(1), color))).
		TextMode(common.BigValueTextModeName)
}

func upDown(title, expr string, gp dashboard.GridPos, desc string) *stat.PanelBuilder {
	return statPanel(
		title,
		desc,
		gp,
		query(expr, "{{instance}}"),
	).
		Unit("none").
		Mappings([]dashboard.ValueMapping{valueMap(map[string][2]string{
			"1": {"up", "green"},
			"0": {"DOWN", "red"},
		})}).
		Thresholds(thresholds(step(nil, "red"), step(f(1), "green"))).
		TextMode(common.BigValueTextModeValue)
}

func sinceRefresh() *stat.PanelBuilder {
	return statPanel(
		"Since last good refresh",
		"Time since the exporter last read the store completely. A full read happens every refresh interval (15m by default), so up to about 15 minutes is normal; orange past 20, red past 30.",
		pos(8, 17, 4, 4),
		query(`time() - max by (instance) (`+sel("backupwatch_last_refresh_success_timestamp_seconds")+`)`, "{{instance}}"),
	).
		Unit("dtdurations").
		Thresholds(thresholds(step(nil, "green"), step(f(1200), "orange"), step(f(1800), "red"))).
		TextMode(common.BigValueTextModeValue)
}

func count(title, expr string, gp dashboard.GridPos, desc string) *stat.PanelBuilder {
	return statPanel(
		title,
		desc,
		gp,
		query(expr, title),
	).
		Unit("none").
		Decimals(0).
		Thresholds(thresholds(step(nil, "green"))).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeValue)
}

// textfileAge is for sites that run the textfile mode instead of serve.
func textfileAge() *stat.PanelBuilder {
	return statPanel(
		"backup.prom age (textfile mode)",
		"Time since node_exporter's textfile backup.prom was rewritten; BackupTextfileStale fires past 1 hour. Empty when serve is used.",
		pos(20, 17, 4, 4),
		query(`time() - max by (instance) (`+sel("node_textfile_mtime_seconds", `file=~"(.*/)?backup\\.prom"`)+`)`, "{{instance}}"),
	).
		Unit("dtdurations").
		Thresholds(thresholds(step(nil, "green"), step(f(1800), "orange"), step(f(3600), "red"))).
		TextMode(common.BigValueTextModeValue)
}

func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasource).
		Expr(expr).
		LegendFormat(legend).
		Instant().
		RefId("A")
}

func lastValue() *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false).Fields("")
}

func thresholds(steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

// step is one threshold; a nil value is Grafana's base step (-Infinity).
func step(v *float64, color string) dashboard.Threshold {
	return dashboard.Threshold{Value: v, Color: color}
}

func f(v float64) *float64 { return &v }

func valueMap(m map[string][2]string) dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	var i int32
	for _, k := range []string{"0", "1"} {
		if r, ok := m[k]; ok {
			opts[k] = dashboard.ValueMappingResult{Text: cog.ToPtr(r[0]), Color: cog.ToPtr(r[1]), Index: cog.ToPtr(i)}
			i++
		}
	}
	return dashboard.ValueMapping{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}
}

func pos(x, y, w, h uint32) dashboard.GridPos { return dashboard.GridPos{X: x, Y: y, W: w, H: h} }

// statPanel is what every Stat panel here shares: one query, colours by
// thresholds on the background, no sparkline, the last value.
func statPanel(title, desc string, gp dashboard.GridPos, target *prometheus.DataqueryBuilder) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(desc).
		Datasource(datasource).
		GridPos(gp).
		WithTarget(target).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(lastValue())
}
