// Package e2e holds backupwatch's end-to-end test: a real Vault, `backupwatch
// serve`, Debian's prometheus loading deploy/prometheus/backup.yml and
// Debian's prometheus-alertmanager loading deploy/alertmanager/alertmanager.yml,
// with a Slack webhook and an SMTP server inside the test receiving what
// people would. It has no code outside its tests.
package e2e
