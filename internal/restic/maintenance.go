package restic

import (
	"path/filepath"
	"strings"
)

// maintenanceCommands are restic's subcommands that keep a repository
// rather than back anything up: a run of one makes no snapshot.
var maintenanceCommands = map[string]bool{"forget": true, "prune": true, "check": true}

// globalValueFlags are restic's global flags that take their value as the
// next argument: skipped looking for the subcommand.
var globalValueFlags = map[string]bool{
	"-r": true, "--repo": true, "--repository-file": true, "-p": true, "--password-file": true,
	"--password-command": true, "--key-hint": true, "--cache-dir": true, "-o": true, "--option": true,
	"--limit-upload": true, "--limit-download": true, "--pack-size": true, "--tls-client-cert": true,
	"--cacert": true, "--compression": true, "--retry-lock": true, "--stuck-request-timeout": true,
	"--http-user-agent": true,
}

// Maintenance reports whether args (a program and its arguments) run
// restic forget, prune or check: maintenance of the repository, not a
// backup. Only restic itself is recognised (its base name starts with
// "restic"); a wrapper (sh -c ...) is not, and says so otherwise (run
// --maintenance).
func Maintenance(args []string) bool {
	if len(args) < 2 || !strings.HasPrefix(filepath.Base(args[0]), "restic") {
		return false
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return false
		case globalValueFlags[a]:
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return maintenanceCommands[a]
		}
	}
	return false
}
