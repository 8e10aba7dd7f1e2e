package main

import (
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/config"
)

// TestFlagHelpExplainsDefault (issue 24): `record --help` showed
// --exit-code=-1 without saying what -1 means. Every flag that shows a
// default says in its help what that default means (the log flags list
// their values, the default among them), and every optional flag without
// one says what leaving it out means.
func TestFlagHelpExplainsDefault(t *testing.T) {
	app, _ := newApp(&globals{stdout: io.Discard, stderr: io.Discard})
	m := app.Model()
	// Words that say what an absent flag means (its default is none).
	absent := []string{"default", "without", "else ", "otherwise", "instead of", "with --", "unless"}
	check := func(where string, fs []*kingpin.FlagModel) {
		for _, f := range fs {
			if f.Hidden || f.Name == "log.level" || f.Name == "log.format" || f.Required || f.IsBoolFlag() {
				continue
			}
			help := strings.ToLower(f.Help)
			if len(f.Default) > 0 && !strings.Contains(help, "default") {
				t.Errorf("%s --%s=%s: the help does not say what the default means: %q", where, f.Name, strings.Join(f.Default, ","), f.Help)
			}
			if len(f.Default) == 0 && !slices.ContainsFunc(absent, func(w string) bool { return strings.Contains(help, w) }) {
				t.Errorf("%s --%s: the help does not say what leaving it out means: %q", where, f.Name, f.Help)
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
	app, _ := newApp(&globals{stdout: io.Discard, stderr: io.Discard})
	var groups []string
	for _, c := range app.Model().Commands {
		if len(c.Commands) > 0 {
			groups = append(groups, c.FullCommand)
		}
	}
	if len(groups) < 2 {
		t.Fatalf("groups of subcommands: %v, want restore-test and config at least", groups)
	}
	for _, group := range groups {
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
// what the file holds, every key of it (read from the config's own types,
// so a new key cannot be left out: labels and page_after were), and where
// its reference is; forget's --job says what forget does without it.
func TestConfigFileHelp(t *testing.T) {
	keys := []string{"docs/configuration.md"}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for f := range ty.Fields() {
			tag := strings.Split(f.Tag.Get("yaml"), ",")
			switch {
			case slices.Contains(tag[1:], "inline"):
				walk(f.Type)
			case tag[0] != "" && tag[0] != "-" && !slices.Contains(keys, tag[0]+":"):
				keys = append(keys, tag[0]+":")
			}
		}
	}
	for _, ty := range []any{config.Config{}, config.HostEntry{}, config.JobEntry{}, config.ScheduleRule{}, config.PageAfter{}} {
		walk(reflect.TypeOf(ty))
	}
	for _, cmd := range []string{"serve", "textfile", "check"} {
		_, out, _ := cli(t, cmd, "--help")
		out = strings.Join(strings.Fields(out), " ") // as wrapped
		for _, want := range keys {
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
