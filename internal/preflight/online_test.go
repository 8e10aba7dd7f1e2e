package preflight

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/localstore"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

func TestOnlineLocalStore(t *testing.T) {
	st, err := localstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var s said
	hostKey := func() (string, error) { t.Error("hostKey called for a local store"); return "", nil }
	if err := Online(context.Background(), st, Writer, hostKey, s.say); err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || !strings.Contains(s[0], "0 records, nothing to log in to") {
		t.Errorf("said %q", s)
	}
}

// TestOnline logs in to a real Vault with the shipped policies and checks
// what each role's credentials may do, writing nothing.
func TestOnline(t *testing.T) {
	v := vaulttest.Start(t)
	v.PutShippedPolicies(t, "backupwatch-writer", "backupwatch-exporter", "backupwatch-restore-tester")
	dir := t.TempDir()
	login := func(role, policy string) *vaultkv.Store {
		roleID, secretID := v.AppRole(t, role, []string{policy}, time.Hour, 0)
		r, s := filepath.Join(dir, role+".role-id"), filepath.Join(dir, role+".secret-id")
		for p, c := range map[string]string{r: roleID, s: secretID} {
			if err := os.WriteFile(p, []byte(c+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		st, err := vaultkv.New(vaultkv.Config{Address: v.Addr, RoleIDFile: r, SecretIDFile: s, Mount: "kv", Prefix: "golemtrust/backup-status", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	db := login("db", "backupwatch-writer")
	exporter := login("exporter", "backupwatch-exporter")
	tester := login("restore-tester", "backupwatch-restore-tester")
	if err := db.Update(context.Background(), "db", func(map[string]any) (map[string]any, bool, error) {
		return map[string]any{"status": "success"}, true, nil
	}); err != nil {
		t.Fatalf("write db's record: %v", err)
	}
	errNoHost := errors.New("find this machine's host name")
	host := func(h string) func() (string, error) { return func() (string, error) { return h, nil } }
	tests := []struct {
		name    string
		st      Store
		role    string
		hostKey func() (string, error)
		wantErr string // "" for none
		wantSay string // the last thing said
	}{
		{"writer, its own host", db, Writer, host("db"), "", "online: can write kv/golemtrust/backup-status/db (nothing was written)"},
		{"writer, another host", db, Writer, host("auth"), "cannot write kv/golemtrust/backup-status/auth", ""},
		{"writer, no host name", db, Writer, func() (string, error) { return "", errNoHost }, errNoHost.Error(), ""},
		{"writer as exporter", db, Exporter, nil, "the exporter must list the records", ""},
		{"exporter", exporter, Exporter, nil, "", "online: can list (1 records) and read them"},
		{"exporter as writer", exporter, Writer, host("db"), "cannot write kv/golemtrust/backup-status/db", ""},
		{"restore tester", tester, RestoreTester, nil, "", "online: can write kv/golemtrust/backup-status/restore-test (nothing was written)"},
		{"writer as restore tester", db, RestoreTester, nil, "cannot write kv/golemtrust/backup-status/restore-test", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s said
			err := Online(context.Background(), tt.st, tt.role, tt.hostKey, s.say)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(s) == 0 || s[len(s)-1] != tt.wantSay || !strings.HasPrefix(s[0], "online: logged in to vault") {
				t.Errorf("said %q, want a login then %q", s, tt.wantSay)
			}
		})
	}
	sec, err := v.Client(t).Logical().List("kv/metadata/golemtrust/backup-status")
	if err != nil || sec == nil || fmt.Sprint(sec.Data["keys"]) != "[db]" {
		t.Errorf("records after the checks: %v, %v; want only db", sec, err)
	}
}
