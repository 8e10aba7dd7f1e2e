package repocheck

import (
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/config"
	"github.com/golemtrust/backupwatch/internal/parts"
)

// TestRetention, on both restic generations: with keep-daily: 7, db backed
// up on each of the last 7 days but one (a forgotten day) lacks 1 restore
// point; new, backed up for 2 days only, is promised 2 and lacks none; web,
// with keep-daily: 2 and 6 snapshots, holds more than forget would leave
// (a pruning job that stopped); mail has no policy: nothing judged.
func TestRetention(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			now := time.Now().UTC()
			at := func(host string, daysAgo int) {
				f.restic("backup", "--host", host, "--time", now.AddDate(0, 0, -daysAgo).Format("2006-01-02 15:04:05"), f.src)
			}
			for d := 1; d <= 7; d++ {
				if d != 3 {
					at("db", d)
				}
			}
			at("new", 1)
			at("new", 2)
			for range 6 {
				at("web", 1)
			}
			at("mail", 1)
			cfg := &config.Config{RetentionRules: []config.RetentionRule{
				{Host: "web", Policy: config.Policy{KeepDaily: 2}},
				{Host: "mail", Policy: config.Policy{}}, // never matched below: mail has no policy
				{Policy: config.Policy{KeepDaily: 7}},
			}}
			policy := func(h string) (config.Policy, bool) {
				if h == "mail" {
					return config.Policy{}, false
				}
				return cfg.Retention("r", h, "")
			}
			doc, res := f.check(nil, Options{Retention: policy, Now: func() time.Time { return now }})
			if res.ListErr != nil {
				t.Fatal(res.ListErr)
			}
			r := Parse("r", doc)
			for _, tt := range []struct {
				host             string
				missing, allowed int64
				snapshots        int64
			}{{"db", 1, 14, 6}, {"new", 0, 14, 2}, {"web", 0, 4, 6}} {
				v := r.Hosts[tt.host]
				if v.PointsMissing == nil || *v.PointsMissing != tt.missing || v.SnapshotsAllowed == nil || *v.SnapshotsAllowed != tt.allowed || v.Snapshots != tt.snapshots {
					t.Errorf("%s: %d snapshots, missing %v, allowed %v; want %d, %d, %d", tt.host, v.Snapshots, ptr(v.PointsMissing), ptr(v.SnapshotsAllowed), tt.snapshots, tt.missing, tt.allowed)
				}
			}
			if v := r.Hosts["mail"]; v.PointsMissing != nil || v.SnapshotsAllowed != nil {
				t.Errorf("mail, no policy: missing %v, allowed %v; want none", ptr(v.PointsMissing), ptr(v.SnapshotsAllowed))
			}
		})
	}
}

func ptr(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}
