//go:build linux

package docs

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/parts"
)

// icingaBlock is the ```icinga2 block of monitoring-plugins.md.
func icingaBlock(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("monitoring-plugins.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "```icinga2\n")
	if len(parts) != 2 {
		t.Fatalf("monitoring-plugins.md has %d icinga2 blocks, want 1", len(parts)-1)
	}
	end := strings.Index(parts[1], "```")
	if end < 0 {
		t.Fatal("monitoring-plugins.md: the icinga2 block never ends")
	}
	return parts[1][:end]
}

// icingaPreamble is what the page's block needs around it to run: the
// Icinga Template Library, a checker, a perfdata writer that records each
// check's state, output and performance data as Icinga parsed them, and
// the hosts. The page's block is used as it is, but for where the binary
// is; the hosts name the store and the config file.
const icingaPreamble = `
include <itl>
const PluginDir = "/usr/lib/nagios/plugins"
include <plugins>
object CheckerComponent "checker" { }
object PerfdataWriter "perfdata" {
  service_perfdata_path = "@DIR@/perf/service"
  host_perfdata_path = "@DIR@/perf/host"
  service_temp_path = "@DIR@/perf/service.tmp"
  host_temp_path = "@DIR@/perf/host.tmp"
  service_format_template = "$host.name$/$service.name$\t$service.state$\t$service.output$\t$service.perfdata$"
  rotation_interval = 1s
}
template Host "watched" {
  check_command = "dummy"
  vars.backupwatch_store_dir = "@DIR@/records"
}
object Host "db" { import "watched"; vars.backupwatch = true }
object Host "web" { import "watched"; vars.backupwatch = true }
object Host "mail" { import "watched"; vars.backupwatch = true }
object Host "new" { import "watched"; vars.backupwatch = true }
object Host "metrics" { import "watched"; vars.backupwatch_fleet = true }
`

func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

func currentGroup(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	return g.Name
}

// icingaRecordRE is a line of the perfdata writer's template below: the
// service, its state, its output (with the long output's lines) and its
// performance data.
var icingaRecordRE = regexp.MustCompile(`(?m)^(\S+/\S+)\t([A-Z]+)\t([^\t]*)\t(.*)$`)

// TestIcingaExample runs the page's Icinga 2 configuration in a real
// Icinga 2 (Debian's icinga2-bin) on records of each state: Icinga
// executes the check and records the state, the summary and the
// performance data as it parsed them.
func TestIcingaExample(t *testing.T) {
	icinga := parts.DebianPath(t, "icinga2") // the package icinga2-bin
	bin := buildBinary(t)
	dir := t.TempDir()
	records := filepath.Join(dir, "records")
	ago := func(d time.Duration) string { return "--at=" + time.Now().Add(-d).UTC().Format(time.RFC3339) }
	for _, args := range [][]string{
		{"record", "--status=success", "--host=db", ago(time.Hour)},
		{"record", "--status=success", "--host=mail", ago(30 * time.Hour)},
		{"record", "--status=failed", "--host=web", ago(3 * time.Hour)},
		{"record", "--status=failed", "--host=web", ago(2 * time.Hour), "--message=repository is already locked"},
		{"restore-test", "record", "--result=passed", "--host-tested=db", "--time-to-restore=4m"},
	} {
		if out, err := exec.Command(bin, append([]string{"--store.dir=" + records}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, []byte("hosts: [db, web, mail, new]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	block := strings.ReplaceAll(icingaBlock(t), `"/usr/bin/backupwatch"`, `"`+bin+`"`)
	block = strings.ReplaceAll(block, `"/etc/backupwatch/config.yml"`, `"`+config+`"`)
	// The page's services check every 5 minutes: here every second.
	block = strings.NewReplacer("check_interval = 5m", "check_interval = 1s", "retry_interval = 1m", "retry_interval = 1s").Replace(block)
	conf := filepath.Join(dir, "icinga2.conf")
	if err := os.WriteFile(conf, []byte(strings.ReplaceAll(icingaPreamble, "@DIR@", dir)+block), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"data", "log", "cache", "spool", "run", "perf"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Icinga's own directories in dir, run as whoever runs the test.
	defines := []string{
		"-DDataDir=" + filepath.Join(dir, "data"), "-DLogDir=" + filepath.Join(dir, "log"),
		"-DCacheDir=" + filepath.Join(dir, "cache"), "-DSpoolDir=" + filepath.Join(dir, "spool"),
		"-DInitRunDir=" + filepath.Join(dir, "run"),
		"-DRunAsUser=" + currentUser(t), "-DRunAsGroup=" + currentGroup(t),
	}
	if out, err := exec.Command(icinga, append([]string{"daemon", "-C", "-c", conf}, defines...)...).CombinedOutput(); err != nil {
		t.Fatalf("icinga2 daemon -C: the page's configuration does not validate: %v\n%s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	daemon := exec.CommandContext(ctx, icinga, append([]string{"daemon", "-c", conf}, defines...)...)
	daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Icinga's umbrella process outlives a plain kill of the first one:
	// the whole group goes.
	daemon.Cancel = func() error { return syscall.Kill(-daemon.Process.Pid, syscall.SIGKILL) }
	logFile, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		t.Fatal(err)
	}
	daemon.Stdout, daemon.Stderr = logFile, logFile
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = daemon.Wait()
		logFile.Close()
	})

	want := map[string]struct{ state, output, perf string }{
		"db/backup":       {"OK", "BACKUP OK - db: last success 1h", "s;86400;172800;0; failures=0;0;1;0;"},
		"mail/backup":     {"WARNING", "BACKUP WARNING - mail: last success 30h", "failures=0;0;1;0;"},
		"web/backup":      {"CRITICAL", "BACKUP CRITICAL - web: never succeeded, 2 failures in a row: repository is already locked", "age=U;86400;172800;0; failures=2;0;1;0;"},
		"new/backup":      {"UNKNOWN", "BACKUP UNKNOWN - new: no record", ""},
		"metrics/backups": {"CRITICAL", "BACKUP CRITICAL - 4 backups: 1 critical, 1 warning, 1 unknown, 1 ok; critical: web; warning: mail; unknown: new \nCRITICAL web: never succeeded", "ok=1;;;0;4 warning=1;;;0;4 critical=1;;;0;4 unknown=1;;;0;4"},
	}
	got := map[string][]string{}
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < len(want) && time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "perf", "service.*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // rotated away meanwhile
			}
			// A check's output spans lines when it has long output.
			for _, m := range icingaRecordRE.FindAllStringSubmatch(string(b), -1) {
				if _, ok := want[m[1]]; ok {
					got[m[1]] = m[2:]
				}
			}
		}
		if len(got) < len(want) {
			time.Sleep(200 * time.Millisecond) // polling Icinga's files; the deadline bounds it
		}
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			log, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
			t.Errorf("%s: Icinga recorded no check within the deadline\n%s", name, log)
		case g[0] != w.state || !strings.HasPrefix(g[1], w.output) || !strings.Contains(g[2], w.perf):
			t.Errorf("%s: Icinga recorded %s %q %q\nwant %s %q... with %q", name, g[0], g[1], g[2], w.state, w.output, w.perf)
		}
	}
}
