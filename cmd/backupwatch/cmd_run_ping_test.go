package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golemtrust/backupwatch/internal/localstore"
)

// TestPingBadInput: a ping URL that is not http(s), holds credentials or
// points at a file, a URL file that is no such file, and a config file
// with a bad pings key: exit 2 with one line that never quotes the URL,
// before the backup starts or anything is recorded.
func TestPingBadInput(t *testing.T) {
	dir := t.TempDir()
	storeDir := filepath.Join(dir, "store")
	marker := filepath.Join(dir, "ran")
	write := func(name, content string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	credFile := write("cred-url", "https://backup:p4ssw0rd@hc.example/ping/abc\n")
	badConfig := write("config.yml", "pings:\n  url: https://hc.example/p4ssw0rd/{hostname}\n")
	run := []string{"--store.dir=" + storeDir, "run", "--host=db", "--log.file=", "--lock.file=" + filepath.Join(dir, "lock")}
	rt := []string{"--store.dir=" + storeDir, "restore-test", "run", "--repo=" + filepath.Join(dir, "repo"), "--restic.binary=/nonexistent/restic"}
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"ftp", []string{"--ping.url=ftp://hc.example/p4ssw0rd"}, "http or https"},
		{"file URL", []string{"--ping.url=file:///etc/p4ssw0rd"}, "points at a file"},
		{"a path", []string{"--ping.url=/etc/backupwatch/p4ssw0rd"}, "points at a file"},
		{"credentials", []string{"--ping.url=https://backup:p4ssw0rd@hc.example/ping/abc"}, "credentials"},
		{"credentials in the file", []string{"--ping.url-file=" + credFile}, "credentials"},
		{"file is a directory", []string{"--ping.url-file=" + dir}, "not a regular file"},
		{"no such file", []string{"--ping.url-file=" + filepath.Join(dir, "none")}, "no such file"},
		{"both", []string{"--ping.url=https://hc.example/p4ssw0rd", "--ping.url-file=" + credFile}, "give one"},
		{"bad kind", []string{"--ping.kind=nagios", "--ping.url=https://hc.example/p4ssw0rd"}, "nagios"},
		{"bad config", []string{"--config.file=" + badConfig}, "unknown placeholder {hostname}"},
	} {
		for _, cmd := range [][]string{
			append(append(append([]string{}, run...), tc.flags...), "--", "touch", marker),
			append(append([]string{}, rt...), tc.flags...),
		} {
			t.Run(tc.name+" "+cmd[1], func(t *testing.T) {
				code, out, errOut := cli(t, cmd...)
				if code != exitUsage {
					t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, out, errOut)
				}
				if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.Contains(errOut, tc.want) {
					t.Errorf("stderr %q, want one line with %q", errOut, tc.want)
				}
				if strings.Contains(errOut+out, "p4ssw0rd") {
					t.Errorf("the URL's secret reached the output: %q", errOut)
				}
			})
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("run started the backup program despite a bad ping URL")
	}
	if entries, _ := os.ReadDir(storeDir); len(entries) != 0 {
		t.Errorf("refused input was recorded: %v", entries)
	}
}

// pingStandIn is a stand-in healthchecks recording "path body" per ping.
func pingStandIn(t *testing.T) (string, func() []string) {
	var mu sync.Mutex
	var pings []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		pings = append(pings, r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), pings...)
	}
}

// TestRunPings: run pings the URL of --ping.url-file, or the one the
// config file's pattern makes for its host and job; the URL never
// reaches the output, the log or the record.
func TestRunPings(t *testing.T) {
	base, got := pingStandIn(t)
	dir := t.TempDir()
	storeDir, logFile := filepath.Join(dir, "store"), filepath.Join(dir, "backup.log")
	urlFile := filepath.Join(dir, "ping-url")
	if err := os.WriteFile(urlFile, []byte(base+"/ping/5ecret-uuid-0001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, []byte("pings:\n  url: "+base+"/ping/5ecret-key/{host}-{job}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := "echo 'Fatal: unable to open config file' >&2; exit 1"
	for _, tc := range []struct {
		name, flag, job, path string
	}{
		{"url file", "--ping.url-file=" + urlFile, "", "/ping/5ecret-uuid-0001"},
		{"config pattern", "--config.file=" + config, "dump", "/ping/5ecret-key/db-dump"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(got())
			args := []string{"--store.dir=" + storeDir, "run", "--host=db", "--log.file=" + logFile, "--lock.file=" + filepath.Join(dir, "lock"), tc.flag}
			if tc.job != "" {
				args = append(args, "--job="+tc.job)
			}
			code, out, errOut := cli(t, append(args, "--", "sh", "-c", script)...)
			if code != 1 {
				t.Fatalf("exit %d, want the program's 1\n%s", code, errOut)
			}
			pings := got()[before:]
			if len(pings) != 2 || !strings.HasPrefix(pings[0], tc.path+"/start ") || !strings.HasPrefix(pings[1], tc.path+"/fail ") || !strings.Contains(pings[1], "Fatal: unable to open config file") {
				t.Fatalf("pings: got %q, want start and fail at %s with restic's line", pings, tc.path)
			}
			log, _ := os.ReadFile(logFile)
			if strings.Contains(out+errOut+string(log), "5ecret") {
				t.Errorf("the ping URL reached the output or the log:\n%s%s%s", out, errOut, log)
			}
		})
	}
	st, err := localstore.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := st.Get(context.Background(), "db")
	if err != nil || fmt.Sprint(doc["ping_failures"]) != "0" || fmt.Sprint(doc["status"]) != "failed" {
		t.Errorf("record: %v, %v; want failed with ping_failures 0", doc, err)
	}
	if strings.Contains(fmt.Sprint(doc), "5ecret") {
		t.Errorf("the record holds the ping URL: %v", doc)
	}
}
