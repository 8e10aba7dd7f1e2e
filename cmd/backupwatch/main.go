// Command backupwatch tells an operations team, loudly and on time, when
// their backups stop protecting them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"

	"github.com/golemtrust/backupwatch/internal/deliver"
)

// Exit codes, decided here and nowhere else.
const (
	exitOK        = 0
	exitError     = 1 // the command could not do its work
	exitUsage     = 2 // bad flags or arguments
	exitUnhealthy = 3 // `status`: a host is overdue, failed or unknown
	// `status --format=nagios` exits as a monitoring plugin instead: 0 OK,
	// 1 WARNING, 2 CRITICAL, 3 UNKNOWN, the last for every problem
	// (isNagiosCheck, nagiosUnknown).
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// exitCode carries a specific exit status out of a command: the child's
// status for `run`, exitUnhealthy for `status`.
type exitCode struct {
	code int
	err  error // printed when not nil
}

func (e *exitCode) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

// usageError marks a problem with what the operator asked for.
type usageError struct{ error }

func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run under a parent context, which tests cancel.
func runContext(parent context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{
		log:    promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: stderr},
		stdout: stdout,
		stderr: stderr,
	}
	app, cmds := newApp(g)
	selected, done, err := parse(app, args)
	if done != nil {
		return int(*done)
	}
	exitFor := func(err error) int { return exitStatus(err, stderr) }
	if isNagiosCheck(args) {
		exitFor = func(err error) int {
			if err == nil {
				return exitOK
			}
			return nagiosUnknown(err, stdout)
		}
	}
	if err != nil {
		if isNagiosCheck(args) {
			return exitFor(fmt.Errorf("%w (try --help)", err))
		}
		fmt.Fprintf(stderr, "backupwatch: %v (try --help)\n", err)
		return exitUsage
	}
	if isNagiosCheck(args) {
		quietCheck(args, &g.log)
	}
	g.logger = promslog.New(&g.log)
	// Bad global flags stop every command before it does anything; check
	// reports them among all its findings instead.
	if selected != "check" {
		if err := g.validate(); err != nil {
			return exitFor(err)
		}
	}

	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range cmds {
		if c.clause.FullCommand() == selected {
			err := c.run(ctx)
			g.nudges.Wait() // each nudge is bounded by nudge.Timeout
			return exitFor(err)
		}
	}
	fmt.Fprintf(stderr, "backupwatch: unknown command %q\n", selected)
	return exitUsage
}

// terminate is what --help and --version end parsing with.
type terminate int

func parse(app *kingpin.Application, args []string) (selected string, done *terminate, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminate)
			if !ok {
				panic(r)
			}
			done = &t
		}
	}()
	selected, err = app.Parse(args)
	return selected, nil, err
}

func exitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintf(stderr, "backupwatch: %v\n", ec.err)
		}
		return ec.code
	}
	fmt.Fprintf(stderr, "backupwatch: %v\n", err)
	var ue usageError
	var jl *deliver.JobLimitError
	if errors.As(err, &ue) || errors.As(err, &jl) {
		return exitUsage
	}
	return exitError
}
