package main

import (
	"fmt"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/golemtrust/backupwatch/internal/nudge"
	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// addNudgeFlags defines how commands that write reach serve to nudge it.
func (o *storeOptions) addNudgeFlags(app *kingpin.Application) {
	app.Flag("exporter.url", "backupwatch serve's URL (replicas: comma-separated), nudged after each result written, so that it reads the record at once rather than at its next refresh. Default: none, no nudge (serve reads the record at its next refresh; on a local store, as soon as it sees the file change). No credentials in it: see --exporter.basic-auth-file.").PlaceHolder("URL").Envar("BACKUPWATCH_EXPORTER_URL").StringVar(&o.exporters)
	app.Flag("exporter.basic-auth-file", "File holding USER:PASSWORD (one line, mode 600) for a serve protected by basic auth (--web.config.file); sent with every nudge, never shown. Default: none, nudges carry no credentials.").PlaceHolder("FILE").Envar("BACKUPWATCH_EXPORTER_BASIC_AUTH_FILE").StringVar(&o.exporterAuthFile)
	app.Flag("exporter.ca-file", "PEM file of the CA that signed serve's TLS certificate (--web.config.file's tls_server_config), for an https --exporter.url from a private CA; default: the system's CAs.").PlaceHolder("FILE").Envar("BACKUPWATCH_EXPORTER_CA_FILE").StringVar(&o.exporterCAFile)
}

// validateNudge checks the exporter flags, files included, so that a bad
// one stops a command before it writes anything.
func (o *storeOptions) validateNudge() error {
	if err := nudge.ValidateURLs(o.exporters); err != nil {
		return usageError{fmt.Errorf("--exporter.url %w", err)}
	}
	if _, err := o.nudgeAuth(); err != nil {
		return err
	}
	if o.exporterCAFile != "" {
		if _, err := nudge.NewClient(o.exporterCAFile); err != nil {
			return usageError{fmt.Errorf("--exporter.ca-file: %w", err)}
		}
	}
	return nil
}

// nudgeAuth reads --exporter.basic-auth-file; nil without one.
func (o *storeOptions) nudgeAuth() (*nudge.BasicAuth, error) {
	if o.exporterAuthFile == "" {
		return nil, nil
	}
	content, err := vaultkv.ReadSecretFile(o.exporterAuthFile, o.vault.AllowInsecureFilePerms)
	if err != nil {
		return nil, usageError{fmt.Errorf("--exporter.basic-auth-file: %w", err)}
	}
	a, err := nudge.ParseBasicAuth(content)
	if err != nil {
		return nil, usageError{fmt.Errorf("--exporter.basic-auth-file %s: %w", o.exporterAuthFile, err)}
	}
	return &a, nil
}

// nudgeSender is the sender of every nudge a command sends, nil without
// --exporter.url.
func (o *storeOptions) nudgeSender(logger *slog.Logger) (*nudge.Sender, error) {
	urls := nudge.Split(o.exporters)
	if len(urls) == 0 {
		return nil, nil
	}
	auth, err := o.nudgeAuth()
	if err != nil {
		return nil, err
	}
	client, err := nudge.NewClient(o.exporterCAFile)
	if err != nil {
		return nil, usageError{fmt.Errorf("--exporter.ca-file: %w", err)}
	}
	return &nudge.Sender{URLs: urls, Logger: logger, Client: client, Auth: auth}, nil
}

// nudgeTarget is the record a spool entry was written to, as a nudge
// names it.
func nudgeTarget(e spool.Entry) status.JobID {
	if e.RestoreTest != nil {
		return status.JobID{Host: status.RestoreTestKey, Job: e.RestoreTest.Job}
	}
	return status.JobID{Host: e.Result.Host, Job: e.Result.Job}
}
