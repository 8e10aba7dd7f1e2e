package main

import (
	"io"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// TestFlagHelpExplainsDefault (issue 24): `record --help` showed
// --exit-code=-1 without saying what -1 means. Every flag that shows a
// default says in its help what that default means (the log flags list
// their values, the default among them).
func TestFlagHelpExplainsDefault(t *testing.T) {
	app, _ := newApp(&globals{stdout: io.Discard, stderr: io.Discard})
	m := app.Model()
	check := func(where string, fs []*kingpin.FlagModel) {
		for _, f := range fs {
			if f.Hidden || len(f.Default) == 0 || f.Name == "log.level" || f.Name == "log.format" {
				continue
			}
			if !strings.Contains(strings.ToLower(f.Help), "default") {
				t.Errorf("%s --%s=%s: the help does not say what the default means: %q", where, f.Name, strings.Join(f.Default, ","), f.Help)
			}
		}
	}
	check("global", m.Flags)
	var walk func(cs []*kingpin.CmdModel)
	walk = func(cs []*kingpin.CmdModel) {
		for _, c := range cs {
			check(c.FullCommand, c.Flags)
			walk(c.Commands)
		}
	}
	walk(m.Commands)
}

// TestGroupHelpListsSubcommandsFirst (issue 24): `restore-test --help`
// and `config --help` printed 60 lines of global flags before their two
// subcommands.
func TestGroupHelpListsSubcommandsFirst(t *testing.T) {
	for _, group := range []string{"restore-test", "config"} {
		code, out, errOut := cli(t, group, "--help")
		if code != exitOK {
			t.Fatalf("%s --help: exit %d: %s", group, code, errOut)
		}
		sub, global := strings.Index(out, "Subcommands:"), strings.Index(out, "Global flags:")
		if sub < 0 || (global >= 0 && global < sub) || strings.Count(out[:sub], "\n") > 8 {
			t.Errorf("%s --help: the subcommands are not first:\n%s", group, out)
		}
	}
}

// TestConfigFileHelp (issue 24): the commands that take --config.file say
// what the file holds and where its reference is; forget's --job says what
// forget does without it.
func TestConfigFileHelp(t *testing.T) {
	for _, cmd := range []string{"serve", "textfile", "check"} {
		_, out, _ := cli(t, cmd, "--help")
		for _, want := range []string{"hosts:", "jobs:", "schedules:", "docs/configuration.md"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s --help does not name %q:\n%s", cmd, want, out)
			}
		}
	}
	_, out, _ := cli(t, "forget", "--help")
	if !strings.Contains(out, "its jobs'") || strings.Contains(out, "Default: the host's own record.") {
		t.Errorf("forget --help: --job does not say that without it the host's jobs are forgotten too:\n%s", out)
	}
}
