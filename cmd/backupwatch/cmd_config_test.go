package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/deploy"
)

func TestConfigPrint(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantFile string // under deploy/, compared byte for byte with stdout
		wantErr  string
	}{
		{[]string{"config", "print", "rules"}, exitOK, "prometheus/backup.yml", ""},
		{[]string{"config", "print", "alertmanager/alertmanager.yml"}, exitOK, "alertmanager/alertmanager.yml", ""},
		{[]string{"config", "print", "restic-backup"}, exitOK, "logrotate/restic-backup", ""},
		{[]string{"config", "print", "vault-writer-policy"}, exitOK, "vault/backupwatch-writer.hcl", ""},
		{[]string{"config", "print", "dashboard"}, exitOK, "grafana/backupwatch.json", ""},
		{[]string{"config", "print", "nope"}, exitUsage, "", `no deploy file "nope"`},
		{[]string{"config", "print"}, exitUsage, "", "required argument 'name' not provided"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := cli(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit: got %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if tt.wantFile != "" {
				want, err := os.ReadFile(filepath.Join("..", "..", "deploy", tt.wantFile))
				if err != nil {
					t.Fatal(err)
				}
				if out != string(want) {
					t.Errorf("stdout is not deploy/%s (%d bytes, want %d)", tt.wantFile, len(out), len(want))
				}
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestConfigList(t *testing.T) {
	code, out, errOut := cli(t, "config", "list")
	if code != exitOK {
		t.Fatalf("config list: exit %d: %s", code, errOut)
	}
	for _, f := range deploy.Files {
		if !strings.Contains(out, f.Name) || !strings.Contains(out, f.Path) || !strings.Contains(out, f.Install) {
			t.Errorf("config list does not show %s (%s, %s):\n%s", f.Name, f.Path, f.Install, out)
		}
	}
}
