// Package deploy holds backupwatch's operational files (alert rules,
// Alertmanager route and message templates, Grafana dashboard, logrotate
// policy, systemd units, Vault policies), embedded so that `backupwatch
// config print` can print them. Each is checked by its own tool in this
// package's tests.
package deploy

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed prometheus/backup.yml alertmanager/alertmanager.yml alertmanager/backupwatch.tmpl alertmanager/receivers alertmanager/quiet-hours.yml grafana/backupwatch.json grafana/provisioning/backupwatch.yml logrotate/restic-backup systemd vault examples/config.yml
var files embed.FS

// File is one artefact: where it lives in deploy/ and where it goes on a host.
type File struct {
	Name    string // short name for `config print`
	Path    string // path under deploy/
	Install string // where a Debian host keeps it
	About   string
}

// Files lists every embedded artefact, in the order a deployment uses them.
var Files = []File{
	{"rules", "prometheus/backup.yml", "/etc/prometheus/rules/backup.yml", "Prometheus alert rules"},
	{"alertmanager", "alertmanager/alertmanager.yml", "/etc/prometheus/alertmanager.yml", "Alertmanager route: Slack #infrastructure-alerts and the backup owner's email, grouped by alertname, with inhibition"},
	{"alertmanager-templates", "alertmanager/backupwatch.tmpl", "/etc/prometheus/alertmanager_templates/backupwatch.tmpl", "Alertmanager message texts: one message per cause, ten hosts named and \"and N more\""},
	{"dashboard", "grafana/backupwatch.json", "/var/lib/grafana/dashboards/backupwatch/backupwatch.json", "Grafana dashboard (built by tools/dashgen)"},
	{"dashboard-provisioning", "grafana/provisioning/backupwatch.yml", "/etc/grafana/provisioning/dashboards/backupwatch.yml", "Grafana provisioning for the dashboard"},
	{"logrotate", "logrotate/restic-backup", "/etc/logrotate.d/restic-backup", "logrotate policy for /var/log/restic-backup.log"},
	{"service", "systemd/backupwatch.service", "/etc/systemd/system/backupwatch.service", "the exporter (backupwatch serve), hardened"},
	{"textfile-service", "systemd/backupwatch-textfile.service", "/etc/systemd/system/backupwatch-textfile.service", "writes backup.prom for node_exporter (textfile mode)"},
	{"textfile-timer", "systemd/backupwatch-textfile.timer", "/etc/systemd/system/backupwatch-textfile.timer", "every 15 minutes, replacing the runbook's cron"},
	{"backup-service", "systemd/restic-backup.service", "/etc/systemd/system/restic-backup.service", "example: a restic backup run through backupwatch"},
	{"backup-timer", "systemd/restic-backup.timer", "/etc/systemd/system/restic-backup.timer", "example: nightly backup timer"},
	{"prune-service", "systemd/restic-prune.service", "/etc/systemd/system/restic-prune.service", "example: restic forget --prune as a backupwatch job (maintenance), on one machine"},
	{"prune-timer", "systemd/restic-prune.timer", "/etc/systemd/system/restic-prune.timer", "example: weekly prune timer"},
	{"check-service", "systemd/restic-check.service", "/etc/systemd/system/restic-check.service", "example: restic check of 5% of the data as a backupwatch job (maintenance), on one machine"},
	{"check-timer", "systemd/restic-check.timer", "/etc/systemd/system/restic-check.timer", "example: weekly check timer"},
	{"vault-exporter-policy", "vault/backupwatch-exporter.hcl", "vault policy write backupwatch-exporter -", "Vault policy: read every record (serve, textfile, status)"},
	{"vault-writer-policy", "vault/backupwatch-writer.hcl", "vault policy write backupwatch-writer -", "Vault policy: each host writes its own record"},
	{"vault-restore-tester-policy", "vault/backupwatch-restore-tester.hcl", "vault policy write backupwatch-restore-tester -", "Vault policy: write the restore test record"},
	{"repo-check-service", "systemd/backupwatch-repo-check.service", "/etc/systemd/system/backupwatch-repo-check.service", "the repository as a second witness: repo-check, on one machine"},
	{"repo-check-timer", "systemd/backupwatch-repo-check.timer", "/etc/systemd/system/backupwatch-repo-check.timer", "daily repo-check, 1/30 of the data each run"},
	{"report-service", "systemd/backupwatch-report.service", "/etc/systemd/system/backupwatch-report.service", "the weekly report, per team, mailed (backupwatch report --mail.to), on one machine"},
	{"report-timer", "systemd/backupwatch-report.timer", "/etc/systemd/system/backupwatch-report.timer", "Monday mornings, the 7 days before"},
	{"deadman-service", "systemd/backupwatch-deadman.service", "/etc/systemd/system/backupwatch-deadman.service", "the dead man's switch (backupwatch deadman), on another machine: tells a person directly when the heartbeat stops"},
	{"example-config", "examples/config.yml", "/etc/backupwatch/config.yml", "example config file (--config.file): 40 hosts in five teams, their owners, jobs and schedules"},
	{"vault-repo-checker-policy", "vault/backupwatch-repo-checker.hcl", "vault policy write backupwatch-repo-checker -", "Vault policy: read the repository password, write the repository check records"},
	{"vault-operator-policy", "vault/backupwatch-operator.hcl", "vault policy write backupwatch-operator -", "Vault policy: the people on call pause and resume any host or job, and read every record"},
	{"receiver-pagerduty", "alertmanager/receivers/pagerduty.yml", "receivers: of /etc/prometheus/alertmanager.yml", "Alertmanager receiver example: PagerDuty (Events API v2), Alertmanager 0.25 and later"},
	{"receiver-opsgenie", "alertmanager/receivers/opsgenie.yml", "receivers: of /etc/prometheus/alertmanager.yml", "Alertmanager receiver example: Opsgenie, Alertmanager 0.25 and later"},
	{"receiver-msteams", "alertmanager/receivers/msteams.yml", "receivers: of /etc/prometheus/alertmanager.yml", "Alertmanager receiver example: Microsoft Teams (msteamsv2), Alertmanager 0.28 and later"},
	{"receiver-webhook", "alertmanager/receivers/webhook.yml", "receivers: of /etc/prometheus/alertmanager.yml", "Alertmanager receiver example: a generic webhook (Alertmanager's JSON), Alertmanager 0.25 and later"},
	{"receiver-ntfy", "alertmanager/receivers/ntfy.yml", "receivers: of /etc/prometheus/alertmanager.yml", "Alertmanager receiver example: ntfy, a webhook with a payload, Alertmanager 0.32 and later"},
	{"receiver-ntfy-0.25", "alertmanager/receivers/ntfy-0.25.yml", "receivers: of /etc/prometheus/alertmanager.yml", "Alertmanager receiver example: ntfy rendering the webhook JSON itself, for Alertmanager 0.25"},
	{"quiet-hours", "alertmanager/quiet-hours.yml", "time_intervals: and route.routes of /etc/prometheus/alertmanager.yml", "Alertmanager example: warnings to chat in working hours only, delayed, never dropped"},
}

// FS returns the embedded files, by their path under deploy/.
func FS() fs.FS { return files }

// Lookup finds a file by its short name, its path under deploy/, or its
// base name when that is unique.
func Lookup(name string) (File, error) {
	var byBase []File
	for _, f := range Files {
		if name == f.Name || name == f.Path {
			return f, nil
		}
		if name == path.Base(f.Path) {
			byBase = append(byBase, f)
		}
	}
	if len(byBase) == 1 {
		return byBase[0], nil
	}
	names := make([]string, len(Files))
	for i, f := range Files {
		names[i] = f.Name
	}
	sort.Strings(names)
	return File{}, fmt.Errorf("no deploy file %q (one of: %s; see `backupwatch config list`)", name, strings.Join(names, ", "))
}

// Read returns a file's content by any name Lookup accepts.
func Read(name string) ([]byte, error) {
	f, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return fs.ReadFile(files, f.Path)
}
