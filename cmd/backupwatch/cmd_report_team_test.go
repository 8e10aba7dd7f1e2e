package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestReportTeams: with the config file, the report gives each team (its
// hosts' team label, else their owner label) its share of the period's
// runs and what needs a look, in the text and as HTML bars; mailed, both
// parts are read back from the SMTP stand-in and checked against the
// history written.
func TestReportTeams(t *testing.T) {
	e := newRunEnv(t, nil)
	st := mustStore(t, e.g)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Hour)
	cfg := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(cfg, []byte(`hosts:
  - {name: db-1, labels: {team: databases}}
  - {name: db-2, labels: {team: databases}}
  - {name: web-1, labels: {owner: "web <b>ops</b>"}}
  - lonely
`), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(host, outcome string, at time.Time) {
		t.Helper()
		res := status.Result{Host: host, Outcome: outcome, At: at, Message: "exit status 1"}
		if err := st.Update(ctx, res.Key(), func(old map[string]any) (map[string]any, bool, error) {
			doc, changed := status.Apply(old, res)
			return doc, changed, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// databases: db-1 fails 1 of 6 (the 4th day back), db-2 succeeds 6
	// of 6: 11 of 12. web <b>ops</b>: web-1 fails its last run: 5 of 6.
	// lonely (no team): 6 of 6.
	for i := 6; i >= 1; i-- {
		at := now.Add(-time.Duration(i)*24*time.Hour + 20*time.Hour)
		write("db-1", map[bool]string{true: status.Failed, false: status.Success}[i == 4], at)
		write("db-2", status.Success, at)
		write("web-1", map[bool]string{true: status.Failed, false: status.Success}[i == 1], at)
		write("lonely", status.Success, at)
	}
	addr, dir := startMailsink(t)
	o := &reportOptions{since: "7d", configFile: cfg, now: func() time.Time { return now }}
	o.mail.to, o.mail.smarthost, o.mail.from = []string{"ops@example.org"}, addr, "backupwatch@example.org"
	o.mail.requireTLS = false
	if err := runReport(ctx, e.g, o); err != nil {
		t.Fatal(err)
	}
	msgs := receivedMail(t, dir)
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want 1", len(msgs))
	}
	text, page := mailParts(t, msgs[0])
	wantText := "Per team (3):\n" +
		"  databases       11 of 12 runs succeeded (91.7%)  1 of 2 hosts and jobs need a look\n" +
		"  web <b>ops</b>  5 of 6 runs succeeded (83.3%)    1 of 1 hosts and jobs need a look\n" +
		"  (no team)       6 of 6 runs succeeded (100.0%)   0 of 1 hosts and jobs need a look\n"
	if !strings.Contains(text, wantText) {
		t.Errorf("mailed text:\n%s\nwant in it:\n%s", text, wantText)
	}
	for _, want := range []string{
		`<td>databases</td>`,
		`<div style="width:92%;height:.8rem;background:#2e7d32"></div></div>11 of 12 (92%)`,
		`<td>web &lt;b&gt;ops&lt;/b&gt;</td>`,
		`<div style="width:83%;height:.8rem;background:#2e7d32"></div></div>5 of 6 (83%)`,
		`<td>(no team)</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("mailed HTML has no %s:\n%s", want, page)
		}
	}
	if regexp.MustCompile(`<b>ops`).MatchString(page) {
		t.Error("the HTML holds a label's markup unescaped")
	}
}
