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
			policy := func(h, job string) (config.Policy, bool) {
				if h == "mail" {
					return config.Policy{}, false
				}
				return cfg.Retention("r", h, job)
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

// TestRetentionPerJob, on both restic generations: a snapshot tagged
// backupwatch-job=<job> is the job's; each job is judged by its own policy
// (the config file's first rule matching the repository, host and job),
// and the host's series sum its parts. db's own daily backups are all
// there; its job dump lacks a day (a forgotten day); its job wal, hourly
// with keep-last: 3, holds 8 (a pruning job that stopped). web's own two
// backups a day exceed keep-daily: 1 but its job logs keeps many: judged
// as one, web's 10 snapshots would be "retention not applied" against
// keep-daily: 1; judged per job, only web's own part is (2 > 2 is not).
// A tag that names no valid job leaves the snapshot the host's own.
func TestRetentionPerJob(t *testing.T) {
	for _, p := range parts.Both(t, "restic") {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, p.Path)
			// Yesterday noon: the days counted do not depend on the hour
			// the test runs at.
			now := time.Now().UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
			at := func(host, job string, ago time.Duration) {
				args := []string{"backup", "--host", host, "--time", now.Add(-ago).Format("2006-01-02 15:04:05")}
				if job != "" {
					args = append(args, "--tag", JobTag+job)
				}
				f.restic(append(args, f.src)...)
			}
			day := 24 * time.Hour
			for d := 1; d <= 7; d++ {
				at("db", "", time.Duration(d)*day)
			}
			for _, d := range []int{1, 2, 4} {
				at("db", "dump", time.Duration(d)*day+time.Hour)
			}
			for h := 1; h <= 8; h++ {
				at("db", "wal", time.Duration(h)*time.Hour)
			}
			at("web", "", day)
			at("web", "bad job!", day+time.Hour) // not a job name: web's own
			for h := 1; h <= 8; h++ {
				at("web", "logs", day+time.Duration(h)*time.Minute)
			}
			cfg := &config.Config{RetentionRules: []config.RetentionRule{
				{Host: "db", Job: "wal", Policy: config.Policy{KeepLast: 3}},
				{Host: "db", Job: "dump", Policy: config.Policy{KeepDaily: 4}},
				{Host: "web", Job: "logs", Policy: config.Policy{KeepLast: 20}},
				{Host: "web", Policy: config.Policy{KeepDaily: 1}},
				{Policy: config.Policy{KeepDaily: 7}},
			}}
			policy := func(h, job string) (config.Policy, bool) { return cfg.Retention("r", h, job) }
			doc, res := f.check(nil, Options{Retention: policy, Now: func() time.Time { return now }})
			if res.ListErr != nil {
				t.Fatal(res.ListErr)
			}
			r := Parse("r", doc)
			if len(r.Problems) > 0 {
				t.Errorf("problems: %v", r.Problems)
			}
			for _, tt := range []struct {
				host, job                   string
				snapshots, missing, allowed int64
			}{
				{"db", "", 18, 1, 14 + 8 + 6}, // the host: the sum of its parts
				{"db", "dump", 3, 1, 8},
				{"db", "wal", 8, 0, 6},
				{"web", "", 10, 0, 2 + 40},
				{"web", "logs", 8, 0, 40},
			} {
				var snapshots int64
				var missing, allowed *int64
				if tt.job == "" {
					v := r.Hosts[tt.host]
					snapshots, missing, allowed = v.Snapshots, v.PointsMissing, v.SnapshotsAllowed
				} else {
					j, ok := r.Jobs[tt.host][tt.job]
					if !ok {
						t.Errorf("%s job %s: not recorded (jobs %v)", tt.host, tt.job, r.Jobs[tt.host])
						continue
					}
					snapshots, missing, allowed = j.Snapshots, j.PointsMissing, j.SnapshotsAllowed
					if j.NewestTime.IsZero() || j.OldestTime.IsZero() || j.NewestTime.Before(j.OldestTime) {
						t.Errorf("%s job %s: newest %v, oldest %v", tt.host, tt.job, j.NewestTime, j.OldestTime)
					}
				}
				if snapshots != tt.snapshots || ptr(missing) != any(tt.missing) || ptr(allowed) != any(tt.allowed) {
					t.Errorf("%s job %q: %d snapshots, missing %v, allowed %v; want %d, %d, %d", tt.host, tt.job, snapshots, ptr(missing), ptr(allowed), tt.snapshots, tt.missing, tt.allowed)
				}
			}
			if n := len(r.Jobs["web"]); n != 1 {
				t.Errorf("web has %d jobs, want 1 (logs): %v", n, r.Jobs["web"])
			}
		})
	}
}

// TestRetentionOldest: an oldest snapshot that forget would remove even
// with a policy twice as generous is retention not applied, though the
// count stays within what the policy allows: wrong is kept by another
// policy than its own (9 snapshots on 8 days, allowed 12, with keep-daily 2,
// keep-weekly 2, keep-monthly 2: its oldest, on the 8th day, shares its
// week and month with newer ones and is beyond 4 days). right's oldest,
// 20 days ago, is one of 3 days holding a snapshot (4 kept at twice the
// policy); mail has no policy.
func TestRetentionOldest(t *testing.T) {
	f := newFixture(t, parts.CurrentPath(t, "restic"))
	now := time.Now().UTC()
	at := func(host string, ago time.Duration) {
		f.restic("backup", "--host", host, "--time", now.Add(-ago).Format("2006-01-02 15:04:05"), f.src)
	}
	day := 24 * time.Hour
	for d := 1; d <= 8; d++ {
		at("wrong", time.Duration(d)*day)
	}
	at("wrong", 8*day-time.Minute)
	at("right", day)
	at("right", 2*day)
	at("right", 20*day)
	at("mail", 30*day)
	policy := func(h, job string) (config.Policy, bool) {
		return config.Policy{KeepDaily: 2, KeepWeekly: 2, KeepMonthly: 2}, h != "mail"
	}
	doc, res := f.check(nil, Options{Retention: policy, Now: func() time.Time { return now }})
	if res.ListErr != nil {
		t.Fatal(res.ListErr)
	}
	r := Parse("r", doc)
	for h, want := range map[string]any{"wrong": true, "right": false, "mail": nil} {
		v := r.Hosts[h]
		var got any
		if v.OldestBeyondPolicy != nil {
			got = *v.OldestBeyondPolicy
		}
		if got != want {
			t.Errorf("%s: oldest beyond its policy %v, want %v", h, got, want)
		}
	}
	if v := r.Hosts["wrong"]; v.SnapshotsAllowed == nil || v.Snapshots > *v.SnapshotsAllowed {
		t.Errorf("wrong: %d snapshots, allowed %v: want within the count, so that only its oldest tells", v.Snapshots, ptr(v.SnapshotsAllowed))
	}
}
