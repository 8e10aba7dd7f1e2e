package vaultkv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// TestHistoryInRecord: on a real Vault, KV v2 and v1, a record keeps its
// last status.HistoryLen results in its side key, not in the record that
// serve reads: on KV v2 still one version of the record per result; the
// side key is listed as no job, and goes with the record.
func TestHistoryInRecord(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	for _, mount := range []string{"kv", "kv1"} {
		t.Run(mount, func(t *testing.T) {
			s := newStore(t, Config{Address: v.Addr, Token: v.RootToken, Mount: mount})
			base := time.Now().Add(-72 * time.Hour).Truncate(time.Second)
			const n = status.HistoryLen + 5
			for i := range n {
				outcome := status.Success
				if i%4 == 2 {
					outcome = status.Failed
				}
				res := status.Result{Host: "db", Outcome: outcome, At: base.Add(time.Duration(i) * time.Hour), Message: "exit status 1\n<b>tail</b>"}
				if err := s.Update(ctx, res.Key(), func(old map[string]any) (map[string]any, bool, error) {
					doc, changed := status.Apply(old, res)
					return doc, changed, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			versions := 0
			if mount == "kv" {
				md, err := v.Client(t).Logical().Read("kv/metadata/golemtrust/backup-status/db")
				if err != nil {
					t.Fatal(err)
				}
				n, _ := md.Data["current_version"].(json.Number).Int64()
				versions = int(n)
			}
			rec, err := s.Get(ctx, "db")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := rec[status.FieldHistory]; ok {
				t.Error("the record holds the history: serve's refresh would read it")
			}
			doc, err := s.Detail(ctx, "db")
			if err != nil {
				t.Fatal(err)
			}
			h, problems := status.History(doc)
			if len(h) != status.HistoryLen || len(problems) > 0 {
				t.Fatalf("history: %d entries, problems %v; want %d", len(h), problems, status.HistoryLen)
			}
			if last := h[len(h)-1]; !last.At.Equal(base.Add((n-1)*time.Hour)) || last.Outcome != status.Failed || last.Reason != "exit status 1" {
				t.Errorf("last entry %+v", last)
			}
			if jobs, err := s.ListFolder(ctx, status.JobsFolder); err != nil || len(jobs) != 0 {
				t.Errorf("jobs %q, %v; want none: the history's key is no job", jobs, err)
			}
			if err := s.Delete(ctx, "db"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, status.SideKey("db", status.SideHistory)); !errors.Is(err, status.ErrNotFound) {
				t.Errorf("history after the record's deletion: %v", err)
			}
			if mount != "kv" {
				return
			}
			if got := versions; got != n {
				t.Errorf("record written %d times, want one write per result (%d)", got, n)
			}
		})
	}
}

// BenchmarkRefreshHistory is serve's refresh against a real Vault (KV v2):
// list, read and parse every host, each with a full history and without
// (the same records with the history field removed). The bound is
// 1.1×; the sub-benchmarks alternate so that a busy machine weighs on both.
func BenchmarkRefreshHistory(b *testing.B) {
	v := vaulttest.Start(b)
	ctx := context.Background()
	const hosts = 300
	base := time.Now().Add(-60 * 24 * time.Hour).Truncate(time.Second)
	var doc map[string]any
	for i := range status.HistoryLen {
		code, d := int64(i%2), 312.5+float64(i)
		outcome := status.Success
		if code == 1 {
			outcome = status.Failed
		}
		doc, _ = status.Apply(doc, status.Result{Host: "h", Outcome: outcome, At: base.Add(time.Duration(i) * 24 * time.Hour), ExitCode: &code, Duration: &d,
			Message: "exit status 1\nFatal: unable to open repository: connection refused",
			Extra:   map[string]string{status.FieldFilesProcessed: "120000", status.FieldBytesProcessed: "52000000000"}})
	}
	plain := maps.Clone(doc)
	delete(plain, status.FieldHistory)
	for _, mount := range []string{"kv", "kv1"} {
		for _, withHistory := range []bool{false, true} {
			s := newStore(b, Config{Address: v.Addr, Token: v.RootToken, Mount: mount, MaxConns: 8})
			d := plain
			if withHistory {
				d = doc
			}
			for i := range hosts {
				if err := s.Update(ctx, fmt.Sprint("h", i), func(map[string]any) (map[string]any, bool, error) { return d, true, nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.Run(fmt.Sprintf("%s/history=%v", mount, withHistory), func(b *testing.B) {
				for range b.N {
					keys, err := s.List(ctx)
					if err != nil {
						b.Fatal(err)
					}
					for _, k := range keys {
						if strings.HasSuffix(k, "/") {
							continue // jobs/, with the histories
						}
						rec, err := s.Get(ctx, k)
						if err != nil {
							b.Fatal(err)
						}
						status.Parse(k, rec)
					}
				}
			})
		}
	}
}

// TestHistoryWithoutPermission: a writer whose policy covers its record
// alone (the runbook's, from before the history: no side key, no update
// of the key's metadata) records as before, with the history its
// record's versions hold; a reader without the history's key reads the
// record, and the record can be deleted. The refused max_versions is
// tried once a key and process, and warned about once, with the policy
// line that allows it: later results cost the record's read and write,
// 2 requests, as on the shipped policy (the third, tried again with
// each result, was logged at debug level alone).
func TestHistoryWithoutPermission(t *testing.T) {
	v := vaulttest.Start(t)
	ctx := context.Background()
	proxy, addr := startCountingProxy(t, v.Addr)
	v.PutPolicy(t, "record-only", `path "kv/data/golemtrust/backup-status/db" { capabilities = ["create", "read", "update"] }
path "kv/metadata/golemtrust/backup-status/db" { capabilities = ["delete"] }
path "sys/internal/ui/mounts/kv/*" { capabilities = ["read"] }`)
	id, secret := v.AppRole(t, "db", []string{"record-only"}, time.Hour, 0)
	var logs bytes.Buffer
	s := newStore(t, Config{Address: addr, Mount: "kv", RoleIDFile: secretFile(t, id, 0o600), SecretIDFile: secretFile(t, secret, 0o600),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	proxy.take()
	for i, outcome := range []string{status.Success, status.Failed, status.Success, status.Failed} {
		res := status.Result{Host: "db", Outcome: outcome, At: time.Now().Add(time.Duration(i-10) * time.Minute)}
		if err := s.Update(ctx, "db", func(old map[string]any) (map[string]any, bool, error) {
			doc, changed := status.Apply(old, res)
			return doc, changed, nil
		}); err != nil {
			t.Fatalf("record %s: %v", outcome, err)
		}
		want := 2
		if i == 0 {
			want = 3 // the refused max_versions
		}
		if got := proxy.take(); len(got) != want {
			t.Errorf("result %d: %d requests %q, want %d", i, len(got), got, want)
		}
	}
	var warnings []string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(l, "level=WARN") {
			warnings = append(warnings, l)
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `path \"kv/metadata/golemtrust/backup-status/db\"`) || !strings.Contains(warnings[0], "update") {
		t.Errorf("warnings %q, want one naming the policy line to add for kv/metadata/golemtrust/backup-status/db", warnings)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), id) {
		t.Error("a secret in the log")
	}
	doc, err := s.Detail(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if r := status.Parse("db", doc); r.Status != status.Failed {
		t.Errorf("status %q, want failed", r.Status)
	}
	// On KV v2 the history is the record's versions, which the record's
	// permission covers: no side key needed (none written, none read).
	if h, _ := status.History(doc); len(h) != 4 {
		t.Errorf("history %+v, want the four results, from the record's versions", h)
	}
	if err := s.Delete(ctx, "db"); err != nil {
		t.Errorf("delete with the record's permission only: %v", err)
	}
}
