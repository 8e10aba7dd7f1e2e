package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/deploy"
)

type configPrintOptions struct {
	name string
}

// addConfigCommands registers `config list` and `config print NAME`, which
// show the operational files embedded from deploy/.
func addConfigCommands(app *kingpin.Application, g *globals) []command {
	c := app.Command("config", "Show the deployment files built into this binary (alert rules, Alertmanager route, dashboard, units, policies).")
	list := c.Command("list", "List the deployment files: name, where each goes, what it is.")
	o := &configPrintOptions{}
	print := c.Command("print", "Print one deployment file, e.g. `backupwatch config print rules > /etc/prometheus/rules/backup.yml`.")
	print.Arg("name", "Its name from `config list`, its path under deploy/, or its file name.").Required().StringVar(&o.name)
	return []command{
		{list, func(ctx context.Context) error { return runConfigList(ctx, g) }},
		{print, func(ctx context.Context) error { return runConfigPrint(ctx, g, o) }},
	}
}

func runConfigList(_ context.Context, g *globals) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFILE\tINSTALL AS\tWHAT")
	for _, f := range deploy.Files {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Path, f.Install, f.About)
	}
	return tw.Flush()
}

func runConfigPrint(_ context.Context, g *globals, o *configPrintOptions) error {
	b, err := deploy.Read(o.name)
	if err != nil {
		return usageError{err}
	}
	_, err = g.stdout.Write(b)
	return err
}
