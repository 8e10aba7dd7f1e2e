package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// ping is one request the stand-in checker received.
type ping struct {
	Event string // start, success or fail (healthchecks' /start, /, /fail)
	Path  string
	RID   string
	Body  string
}

// hcStandIn is a stand-in for healthchecks' ping API: POST <check>/start,
// <check>, <check>/fail with ?rid=, answering "OK" as healthchecks does.
type hcStandIn struct {
	srv   *http.Server
	url   string // the check's ping URL
	mu    sync.Mutex
	pings []ping
}

func newHCStandIn(t *testing.T) *hcStandIn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hcStandIn{url: "http://" + l.Addr().String() + "/ping/0f2a4b6c-1d3e-4f50-8a9b-0c1d2e3f4a5b"}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		p := ping{Path: r.URL.Path, RID: r.URL.Query().Get("rid"), Body: string(body)}
		switch rest := strings.TrimPrefix(r.URL.Path, "/ping/0f2a4b6c-1d3e-4f50-8a9b-0c1d2e3f4a5b"); rest {
		case "":
			p.Event = "success"
		case "/start", "/fail":
			p.Event = rest[1:]
		default:
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h.mu.Lock()
		h.pings = append(h.pings, p)
		h.mu.Unlock()
		io.WriteString(w, "OK")
	})}
	go h.srv.Serve(l)
	t.Cleanup(func() { h.srv.Close() })
	return h
}

// take returns the pings received since the last take.
func (h *hcStandIn) take() []ping {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pings
	h.pings = nil
	return p
}

// hangingChecker accepts connections and never answers.
func hangingChecker(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + l.Addr().String() + "/ping/hanging-check"
}

// closedPort is a URL nothing listens at.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String() + "/ping/down-check"
	l.Close()
	return u
}

var ridRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// pingBound is how long a run with a dead checker may take at most: two
// pings of 10 s each (ping.Budget) and the backup itself, with room for a
// busy machine. A run that takes longer is held by its checker.
const pingBound = 90 * time.Second

// TestPing: `run --ping.url` against a stand-in for healthchecks, with a
// real Vault and Debian's restic: start and success with the output's
// tail; a failing backup (wrong password) start and fail with restic's
// error line; a checker down or hanging costs a bounded time, and the run
// keeps its true exit code and its record (with the failed pings counted).
func TestPing(t *testing.T) {
	t.Parallel()
	takeSlot(t, nil)
	v := vaulttest.Start(t)
	restic := debian(t, "restic")
	dir := t.TempDir()
	repo, pw, badPW, src := filepath.Join(dir, "repo"), filepath.Join(dir, "pw"), filepath.Join(dir, "bad-pw"), filepath.Join(dir, "src")
	for f, content := range map[string]string{pw: "e2e-repository-password\n", badPW: "not-the-password\n", filepath.Join(src, "data"): "something worth keeping\n"} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	resticEnv := append(os.Environ(), "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
	init := exec.Command(restic, "-r", repo, "--password-file", pw, "init")
	init.Env = resticEnv
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("restic init: %v\n%s", err, out)
	}
	backup := func(password string) []string {
		return []string{restic, "-r", repo, "--password-file", password, "--host", "web", "backup", "--json", src}
	}
	// restic's own exit status for the wrong password: what run must exit with.
	direct := exec.Command(backup(badPW)[0], backup(badPW)[1:]...)
	direct.Env = resticEnv
	directOut, err := direct.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("restic with the wrong password: %v, want a failure\n%s", err, directOut)
	}
	wrongExit := ee.ExitCode()

	// run runs backupwatch run for host web against the test's Vault and
	// returns its exit status and output, failing the test past pingBound.
	run := func(t *testing.T, pingFlag string, program []string) (int, string, time.Duration) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), pingBound)
		defer cancel()
		args := append([]string{"--vault.address=" + v.Addr, "run", "--host=web", "--log.file=", "--lock.file=" + filepath.Join(dir, "web.lock"), pingFlag, "--"}, program...)
		cmd := exec.CommandContext(ctx, backupwatchBin, args...)
		cmd.Env = append(resticEnv, "VAULT_TOKEN="+v.RootToken, "BACKUPWATCH_SPOOL_DIR="+filepath.Join(dir, "spool"))
		t0 := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(t0)
		if ctx.Err() != nil {
			t.Fatalf("run with %s was still running after %s: the checker held it\n%s", pingFlag, pingBound, out)
		}
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
		return code, string(out), took
	}
	record := func(t *testing.T) map[string]any {
		t.Helper()
		sec, err := v.Client(t).Logical().Read("kv/data/golemtrust/backup-status/web")
		if err != nil || sec == nil {
			t.Fatalf("read web's record: %v, %v", sec, err)
		}
		doc, _ := sec.Data["data"].(map[string]any)
		return doc
	}
	hc := newHCStandIn(t)

	t.Run("success", func(t *testing.T) {
		code, out, _ := run(t, "--ping.url="+hc.url, backup(pw))
		if code != 0 {
			t.Fatalf("exit %d, want 0\n%s", code, out)
		}
		got := hc.take()
		if len(got) != 2 || got[0].Event != "start" || got[1].Event != "success" || got[0].RID != got[1].RID || !ridRE.MatchString(got[0].RID) {
			t.Fatalf("pings: got %+v, want start then success with one UUID rid", got)
		}
		if b := got[1].Body; !strings.Contains(b, "run of host web: success") || !strings.Contains(b, `"message_type":"summary"`) {
			t.Errorf("success body %q: want the outcome and the tail of restic's output", b)
		}
		if doc := record(t); doc["status"] != "success" || doc["ping_failures"] != "0" {
			t.Errorf("record: %v, want success with ping_failures 0", doc)
		}
		if strings.Contains(out, "0f2a4b6c") {
			t.Errorf("the ping URL reached the output:\n%s", out)
		}
	})

	t.Run("failing backup", func(t *testing.T) {
		code, out, _ := run(t, "--ping.url="+hc.url, backup(badPW))
		if code != wrongExit {
			t.Fatalf("exit %d, want restic's own %d\n%s", code, wrongExit, out)
		}
		got := hc.take()
		if len(got) != 2 || got[0].Event != "start" || got[1].Event != "fail" || got[0].RID != got[1].RID {
			t.Fatalf("pings: got %+v, want start then fail with one rid", got)
		}
		errLine := "Fatal: wrong password or no key found"
		if !strings.Contains(string(directOut), errLine) {
			t.Fatalf("restic's error line changed: %s", directOut)
		}
		if b := got[1].Body; !strings.Contains(b, "run of host web: failed: exit status "+fmt.Sprint(wrongExit)) || !strings.Contains(b, errLine) {
			t.Errorf("fail body %q: want the reason recorded and restic's line %q", b, errLine)
		}
		if doc := record(t); doc["status"] != "failed" || !strings.Contains(fmt.Sprint(doc["message"]), errLine) || doc["ping_failures"] != "0" {
			t.Errorf("record: %v, want failed with restic's line and ping_failures 0", doc)
		}
	})

	for _, tc := range []struct {
		name     string
		url      string
		password string
		want     int
		status   string
	}{
		{"checker down", closedPort(t), pw, 0, "success"},
		{"checker hanging", hangingChecker(t), badPW, wrongExit, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			urlFile := filepath.Join(dir, "ping-url")
			if err := os.WriteFile(urlFile, []byte(tc.url+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, took := run(t, "--ping.url-file="+urlFile, backup(tc.password))
			t.Logf("%s: run took %s", tc.name, took.Round(time.Millisecond))
			if code != tc.want {
				t.Fatalf("exit %d, want the backup's own %d\n%s", code, tc.want, out)
			}
			if !strings.Contains(out, "ping to the checker failed") {
				t.Errorf("no warning about the checker in the output:\n%s", out)
			}
			if strings.Contains(out, "/ping/") {
				t.Errorf("the ping URL reached the output:\n%s", out)
			}
			if doc := record(t); doc["status"] != tc.status || doc["ping_failures"] != "2" {
				t.Errorf("record: %v, want %s with ping_failures 2 (start and end)", doc, tc.status)
			}
		})
	}
}
