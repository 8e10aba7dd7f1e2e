package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"

	"github.com/golemtrust/backupwatch/internal/nudge"
)

// globals are the flags and values every command shares.
type globals struct {
	store  storeOptions
	spool  spoolOptions
	log    promslog.Config
	logger *slog.Logger
	stdout io.Writer
	stderr io.Writer
	nudges *nudge.Sender // set once a result is to be written with --exporter.url
}

// command is one subcommand's clause and what it does.
type command struct {
	clause *kingpin.CmdClause
	run    func(ctx context.Context) error
}

func newApp(g *globals) (*kingpin.Application, []command) {
	app := kingpin.New("backupwatch", "Tells you, loudly and on time, when your backups stop protecting you.")
	app.Version(version.Print("backupwatch"))
	app.HelpFlag.Short('h')
	app.UsageTemplate(usageTemplate)
	app.UsageWriter(g.stdout)
	app.ErrorWriter(g.stderr)
	// --help and --version end parsing at once, without exiting the process.
	app.Terminate(func(code int) { panic(terminate(code)) })
	g.store.addFlags(app)
	g.spool.addFlags(app)
	promslogflag.AddFlags(app, &g.log)
	cmds := []command{
		addRecordCommand(app, g),
		addRestoreTestCommands(app, g),
		addStatusCommand(app, g),
		addForgetCommand(app, g),
		addRunCommand(app, g),
		addFlushCommand(app, g),
		addRestoreTestRunCommand(app, g),
		addServeCommand(app, g),
		addTextfileCommand(app, g),
		addCheckCommand(app, g),
		addRepoCheckCommand(app, g),
		addReportCommand(app, g),
	}
	cmds = append(cmds, addConfigCommands(app, g)...)
	cmds = append(cmds, addPauseCommands(app, g)...)
	cmds = append(cmds, extraCommands(app, g)...)
	return app, cmds
}

// extraCommands is where further subcommands are registered.
var extraCommands = func(app *kingpin.Application, g *globals) []command { return nil }
