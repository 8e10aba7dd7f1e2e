package vaultkv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/fleet"
	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestJobPolicies: with the shipped policies on a real Vault, a host
// writes its own record and its own jobs and nobody else's, the restore
// tester its jobs only, and the exporter reads them all; a listing of the
// prefix shows one jobs/ folder, never a job as a host. KV v2 and v1.
func TestJobPolicies(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	auths, err := v.Client(t).Sys().ListAuth()
	if err != nil {
		t.Fatal(err)
	}
	accessor := auths["approle/"].Accessor
	for _, mount := range []string{"kv", "kv1"} {
		t.Run(mount, func(t *testing.T) {
			roles := map[string]string{"db": "writer", "db2": "writer", "db.example": "writer", "exporter": "exporter", "restore-tester": "restore-tester"}
			stores := map[string]*Store{}
			for _, name := range []string{"writer", "exporter", "restore-tester"} {
				b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "vault", "backupwatch-"+name+".hcl"))
				if err != nil {
					t.Fatal(err)
				}
				hcl := strings.ReplaceAll(string(b), "AUTH_APPROLE_ACCESSOR", accessor)
				hcl = strings.ReplaceAll(hcl, `path "kv/`, `path "`+mount+`/`)
				v.PutPolicy(t, mount+"-"+name, hcl)
			}
			for role, policy := range roles {
				// Role names are per mount so that the two subtests do not share them.
				id, secret := v.AppRole(t, role, []string{mount + "-" + policy}, time.Hour, 0)
				stores[role] = newStore(t, Config{Address: v.Addr, Mount: mount, RoleIDFile: secretFile(t, id, 0o600), SecretIDFile: secretFile(t, secret, 0o600)})
			}
			now := time.Now()
			write := func(who, host, job string, outcome string) error {
				// A failure after the success: always a change to write.
				at := now
				if outcome == status.Failed {
					at = now.Add(time.Second)
				}
				res := status.Result{Host: host, Job: job, Outcome: outcome, At: at}
				return stores[who].Update(ctx, res.Key(), func(old map[string]any) (map[string]any, bool, error) {
					doc, changed := status.Apply(old, res)
					return doc, changed, nil
				})
			}
			for _, tc := range []struct {
				who, host, job string
				allowed        bool
			}{
				{"db", "db", "", true},
				{"db", "db", "files", true},
				{"db", "db", "pg_dump", true},
				{"db2", "db2", "files", true},
				{"db.example", "db.example", "image", true},
				{"db", "db2", "files", false},
				{"db", "db.example", "image", false},
				{"db2", "db", "files", false},
				{"db", "db2", "", false},
				{"restore-tester", "db", "files", false},
				{"exporter", "db", "files", false},
			} {
				outcome := status.Success
				if !tc.allowed {
					outcome = status.Failed
				}
				err := write(tc.who, tc.host, tc.job, outcome)
				switch {
				case tc.allowed && err != nil:
					t.Errorf("%s writing %s: %v", tc.who, status.Name(tc.host, tc.job), err)
				case !tc.allowed && (err == nil || !strings.Contains(err.Error(), "permission denied")):
					t.Errorf("%s writing %s: %v, want permission denied", tc.who, status.Name(tc.host, tc.job), err)
				}
			}
			rt := status.RestoreTest{Job: "weekly", LastTest: now, Result: status.Passed, HostTested: "db"}
			for who, allowed := range map[string]bool{"restore-tester": true, "db": false} {
				err := stores[who].Update(ctx, rt.Key(), func(old map[string]any) (map[string]any, bool, error) {
					doc, ch := status.ApplyRestoreTest(old, rt)
					return doc, ch, nil
				})
				if (err == nil) != allowed {
					t.Errorf("%s writing the weekly restore test: %v, allowed %v", who, err, allowed)
				}
			}

			keys, err := stores["exporter"].List(ctx)
			if got, want := fmt.Sprint(keys), "[db jobs/]"; err != nil || got != want {
				t.Errorf("exporter's listing of the prefix: %s, %v; want %s", got, err, want)
			}
			snap := fleet.Load(ctx, stores["exporter"], fleet.Options{}, nil)
			var jobs []string
			for _, r := range snap.Jobs.Slice() {
				jobs = append(jobs, status.Name(r.Host, r.Job)+"="+r.Status)
			}
			if snap.Err != nil || snap.Hosts.Len() != 1 || len(snap.Problems) != 0 {
				t.Errorf("exporter: err %v, hosts %d, problems %q; want db alone, no problems", snap.Err, snap.Hosts.Len(), snap.Problems)
			}
			if got, want := strings.Join(jobs, ","), "db job files=success,db job pg_dump=success,db.example job image=success,db2 job files=success"; got != want {
				t.Errorf("exporter's jobs: %s, want %s", got, want)
			}
			if len(snap.RestoreTestJobs) != 1 || snap.RestoreTestJobs[0].Job != "weekly" || !snap.RestoreTestJobs[0].Passed() {
				t.Errorf("restore test jobs: %+v", snap.RestoreTestJobs)
			}
		})
	}
}
