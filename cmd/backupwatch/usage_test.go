package main

import (
	"strings"
	"testing"
)

// TestSubcommandHelp: a subcommand's help shows its own flags, with the
// values an enum takes, before the global ones.
func TestSubcommandHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string // in this order
	}{
		{[]string{"record", "--help"}, []string{"Flags:", "--status=success|failed", "--host=HOST", "Global flags:", "--vault.address=URL", "--store.dir="}},
		{[]string{"status", "--help"}, []string{"Flags:", "--config.file", "-o, --output=table|json", "Global flags:", "--vault.timeout=10s"}},
		{[]string{"restore-test", "record", "--help"}, []string{"Flags:", "--result=passed|failed", "Global flags:", "--vault.mount"}},
		{[]string{"check", "--help"}, []string{"Flags:", "--web.listen-address", "--refresh.interval", "--config.file", "--online.role=writer|exporter|restore-tester", "Global flags:", "--vault.address"}},
		{[]string{"run", "--help"}, []string{"Flags:", "--restic.exit3=failed|success", "Args:", "<command>", "Global flags:"}},
		{[]string{"--help"}, []string{"Flags:", "--vault.address", "Commands:", "record --status=success|failed"}},
	}
	for _, tt := range tests {
		code, out, errOut := cli(t, tt.args...)
		if code != exitOK {
			t.Errorf("%v: exit %d: %s", tt.args, code, errOut)
			continue
		}
		rest := out
		for _, w := range tt.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%v: %q missing or out of order in:\n%s", tt.args, w, out)
				break
			}
			rest = rest[i+len(w):]
		}
	}
}
