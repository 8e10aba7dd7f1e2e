package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// textfileHelperEnv, when set, makes TestTextfileHelperProcess run
// backupwatch with the arguments it holds (separated by \x1f): the test
// binary doubles as the backupwatch binary, so a test can kill it.
const textfileHelperEnv = "BACKUPWATCH_TEXTFILE_HELPER_ARGS"

func TestTextfileHelperProcess(t *testing.T) {
	args, ok := os.LookupEnv(textfileHelperEnv)
	if !ok {
		return // an ordinary test run: nothing to do
	}
	os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// textfileProcess starts backupwatch with args in a child process.
func textfileProcess(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTextfileHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), textfileHelperEnv+"="+strings.Join(args, "\x1f"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// checkTextfile fails the test unless path holds a complete exposition of
// hosts hosts, as node_exporter would read it.
func checkTextfile(t *testing.T, path string, hosts int) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s is not a complete exposition: %v", path, err)
	}
	if n := len(fams["backup_status"].GetMetric()); n != 3*hosts {
		t.Fatalf("%s has %d backup_status series, want %d: a partial file", path, n, 3*hosts)
	}
	if fams["backupwatch_store_up"] == nil || fams["backupwatch_build_info"] == nil {
		t.Fatalf("%s lacks backupwatch_store_up or backupwatch_build_info: a partial file", path)
	}
	for name := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			t.Errorf("%s has %s, which node_exporter exports itself", path, name)
		}
	}
	return b
}

// strays returns the files in dir other than the target; it fails the test
// for any that node_exporter would read (*.prom).
func strays(t *testing.T, dir, target string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() == filepath.Base(target) {
			continue
		}
		if strings.HasSuffix(e.Name(), ".prom") {
			t.Errorf("%s left in the textfile directory: node_exporter would read it", e.Name())
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out
}

func TestTextfileLocal(t *testing.T) {
	store := "--store.dir=" + t.TempDir()
	for _, args := range [][]string{
		{store, "record", "--status=success", "--host=db"},
		{store, "record", "--status=failed", "--host=auth", "--exit-code=3"},
	} {
		if code, _, errOut := cli(t, args...); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	out := filepath.Join(t.TempDir(), "backup.prom")
	if code, _, errOut := cli(t, store, "textfile", "--output="+out, "--host=metrics"); code != exitOK {
		t.Fatalf("textfile: exit %d: %s", code, errOut)
	}
	b := checkTextfile(t, out, 3)
	promtoolCheck(t, string(b))
	for _, want := range []string{`backup_status{host="auth",status="failed"} 1`, `backup_status{host="metrics",status="unknown"} 1`, `backup_last_exit_code{host="auth"} 3`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("%s lacks %s", out, want)
		}
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v, %v; want 0644 for node_exporter to read", out, fi.Mode().Perm(), err)
	}

	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string // in what it prints
	}{
		{"not .prom", []string{store, "textfile", "--output=" + filepath.Join(t.TempDir(), "backup.txt")}, exitUsage, "*.prom"},
		{"no such directory", []string{store, "textfile", "--output=/nonexistent/dir/backup.prom"}, exitError, "no such file or directory"},
		{"directory is a file", []string{store, "textfile", "--output=" + out + "/backup.prom"}, exitError, out + " is not a directory"},
		{"bad host", []string{store, "textfile", "--output=" + out, "--host=bad host"}, exitUsage, "bad host"},
		{"no output", []string{store, "textfile"}, exitUsage, "--output"},
	}
	for _, tt := range tests {
		code, _, errOut := cli(t, tt.args...)
		if code != tt.want || !strings.Contains(errOut, tt.wantErr) {
			t.Errorf("%s: exit %d, want %d, saying %q: %s", tt.name, code, tt.want, tt.wantErr, errOut)
		}
	}
}

// fillVault writes n host records with 8 writers.
func fillVault(t *testing.T, v *vaulttest.Server, n int) {
	t.Helper()
	c := v.Client(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				_, err := c.Logical().Write(fmt.Sprintf("kv/data/golemtrust/backup-status/host-%04d", i), map[string]any{"data": map[string]any{
					"status": "success", "last_success": time.Now().UTC().Format(time.RFC3339),
				}})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("fill vault: %v", err)
	}
}

// TestTextfileKilled kills textfile runs at random moments, some as soon
// as their temporary file appears, and checks that the target is always a
// complete file, old or new, and that nothing node_exporter reads is left.
// A failing store leaves the previous file untouched.
func TestTextfileKilled(t *testing.T) {
	const hosts = 400
	v := vaulttest.Start(t)
	fillVault(t, v, hosts)
	t.Setenv("VAULT_TOKEN", v.RootToken)
	dir := t.TempDir()
	out := filepath.Join(dir, "backup.prom")
	args := []string{"--vault.address=" + v.Addr, "textfile", "--output=" + out}

	start := time.Now()
	cmd, log := textfileProcess(t, args...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("textfile: %v\n%s", err, log)
	}
	took := time.Since(start)
	checkTextfile(t, out, hosts)

	midWrite := 0
	for i := 0; i < 16; i++ {
		cmd, _ := textfileProcess(t, args...)
		if i%2 == 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(took) * 5 / 4)))
		} else {
			// Kill the moment the temporary file shows: mid-write.
			deadline := time.Now().Add(2 * took)
			for time.Now().Before(deadline) {
				if s := strays(t, dir, out); len(s) > 0 {
					midWrite++
					break
				}
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		checkTextfile(t, out, hosts)
		strays(t, dir, out)
	}
	left := strays(t, dir, out)
	t.Logf("%d runs killed with a temporary file present; %d temporary files left (a refresh takes %v here)", midWrite, len(left), took)

	// The next run removes what killed runs left, once it is old enough
	// not to belong to a live run.
	old := time.Now().Add(-2 * time.Minute)
	for _, s := range left {
		os.Chtimes(s, old, old)
	}
	cmd, log = textfileProcess(t, args...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("textfile: %v\n%s", err, log)
	}
	checkTextfile(t, out, hosts)
	if s := strays(t, dir, out); len(s) != 0 {
		t.Errorf("files left after a clean run: %v", s)
	}

	// SIGTERM: the run stops cleanly, leaving no temporary file.
	for i := 0; i < 4; i++ {
		cmd, _ := textfileProcess(t, args...)
		time.Sleep(time.Duration(rand.Int64N(int64(took))))
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		checkTextfile(t, out, hosts)
		if s := strays(t, dir, out); len(s) != 0 {
			t.Errorf("files left after SIGTERM: %v", s)
		}
	}

	// Store down: exit non-zero, the previous file untouched, its mtime
	// showing the staleness.
	before, _ := os.ReadFile(out)
	fiBefore, _ := os.Stat(out)
	v.Stop(t)
	cmd, log = textfileProcess(t, append([]string{"--vault.timeout=1s"}, args...)...)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitError {
		t.Errorf("textfile with vault down: %v, want exit status %d\n%s", err, exitError, log)
	}
	if !strings.Contains(log.String(), "not written: ") || !strings.Contains(log.String(), v.Addr) {
		t.Errorf("textfile with vault down does not say why:\n%s", log)
	}
	after, _ := os.ReadFile(out)
	fiAfter, _ := os.Stat(out)
	if !bytes.Equal(before, after) || !fiBefore.ModTime().Equal(fiAfter.ModTime()) {
		t.Errorf("textfile with vault down changed %s", out)
	}
	if strings.Contains(log.String(), v.RootToken) {
		t.Errorf("the token is in the output")
	}
}
