// Package e2e holds backupwatch's end-to-end tests: a real Vault, `backupwatch
// serve`, Debian's prometheus loading deploy/prometheus/backup.yml and
// Debian's prometheus-alertmanager loading deploy/alertmanager/ (timings
// scaled in copies, structure as shipped; issue 20's scenarios run on the
// current Prometheus and Alertmanager too, $BACKUPWATCH_TOOLS_BIN), with a
// Slack webhook inside the test and a real SMTP server (tools/mailsink, its
// own module) receiving what people would. TestInbox plays scenario
// timelines, each on a stack of its own, and asserts exactly which
// notifications reach each channel and what they say. The harness runs six
// stacks at a time (slots_test.go), the long scenarios' first. It has no
// code outside its tests.
package e2e
