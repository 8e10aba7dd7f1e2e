// Command dashgen builds backupwatch's Grafana dashboard with Grafana's Go
// SDK (grafana-foundation-sdk) and writes deploy/grafana/backupwatch.json.
// Run it after changing the dashboard:
//
//	cd tools/dashgen && go run .
//
// Its test fails when the committed file differs from what the code builds.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// defaultOutput is the committed file, relative to tools/dashgen.
const defaultOutput = "../../deploy/grafana/backupwatch.json"

func main() {
	out := flag.String("o", defaultOutput, "file to write; - for standard output")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "dashgen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	b, err := Render()
	if err != nil {
		return err
	}
	if out == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	// Grafana re-reads provisioned files: replace, never truncate in place.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".dashgen-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
