package docs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// The docs test runs every ```sh block of the README and the pages of
// docs/ (docFiles) as written, in order, with bash -e -o pipefail, against a real
// Vault (vaulttest) and the binary built from this tree. Only paths are
// rewritten, by the mapping below, so that nothing outside a temporary
// root is touched. A comment on the line before a fence says more:
//
//	<!-- docs-test: skip (why) -->   not run here (systemd, a package install)
//	<!-- docs-test: on db -->        run on host db (default: metrics)
//	<!-- docs-test: exit 3 -->       the block's expected exit status
//	<!-- docs-test: no-vault -->     without VAULT_ADDR and VAULT_TOKEN
//	<!-- docs-test: output (text) --> its output must hold text
//
// directives separated by ";". Skips are kept few (maxSkips), each with its
// reason.
//
// The mapping (pathMapping):
//   - https://vault.golemtrust.am:8200 -> the test's Vault;
//   - the restic repository sftp:backup@backup.golemtrust.am:/srv/restic/ ->
//     a local directory (shared by all hosts, as the backup server is);
//   - absolute paths under /etc, /var, /srv, /opt, /usr/local -> the same
//     path under the host's root (ROOT/<host>/...), which starts with the
//     directories the packages of the guide's section 1 create;
//   - bin/backupwatch (make build's output) -> the binary the test built.
//
// Each block runs with the host's name as its host name (unshare --uts), in
// one working directory shared by all hosts (the administrator's), with PATH holding backupwatch and a stand-in for the
// vault CLI (testdata/vaultcli: Debian does not package the CLI) before
// Debian's /usr/bin; VAULT_ADDR and VAULT_TOKEN (a root token) are those
// of an administrator's shell, as the guide's section 2 asks;
// BACKUPWATCH_SPOOL_DIR points into the host's root.

// maxSkips bounds the skipped blocks: a skip hides a block from the test,
// so a new one needs a reason this count makes visible.
const maxSkips = 14

// docFiles are the documents whose shell blocks run, in this order (the
// deployment guide sets up Vault first; the README's and the other pages'
// examples then use it). The README's text moved to guide.md,
// operations.md and configuration.md: their blocks run as they did there.
var docFiles = []string{"deployment.md", "../README.md", "guide.md", "operations.md", "configuration.md", "development.md"}

// skeleton is what the guide's packages (Debian's prometheus, restic,
// logrotate, systemd, Grafana's) create before it starts.
var skeleton = []string{
	"etc/systemd/system", "etc/logrotate.d", "etc/default", "etc/prometheus",
	"etc/grafana/provisioning/dashboards", "var/lib", "var/log", "var/spool",
	"usr/local/bin", "srv",
}

type block struct {
	file    string
	line    int // of the fence
	lang    string
	text    string
	skip    string // reason; "" runs it
	host    string
	exit    int
	noVault bool
	output  string // what the output must hold; "" for anything
}

var directiveRE = regexp.MustCompile(`^<!--\s*docs-test:\s*(.*?)\s*-->$`)

// parseBlocks returns the fenced blocks of a Markdown file with their
// directives; a directive not right before a fence is an error.
func parseBlocks(file string, src []byte) ([]block, error) {
	var out []block
	var cur *block
	var pending *block
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if cur != nil {
			if strings.HasPrefix(line, "```") {
				out = append(out, *cur)
				cur = nil
			} else {
				cur.text += line + "\n"
			}
			continue
		}
		if m := directiveRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			b := block{file: file, host: "metrics"}
			for _, d := range splitDirectives(m[1]) {
				d = strings.TrimSpace(d)
				switch {
				case strings.HasPrefix(d, "skip"):
					r := strings.TrimSpace(strings.TrimPrefix(d, "skip"))
					if !strings.HasPrefix(r, "(") || !strings.HasSuffix(r, ")") || len(r) < 5 {
						return nil, fmt.Errorf("%s:%d: skip needs a reason: skip (why)", file, n)
					}
					b.skip = r[1 : len(r)-1]
				case strings.HasPrefix(d, "on "):
					b.host = strings.TrimSpace(d[3:])
				case strings.HasPrefix(d, "exit "):
					code, err := strconv.Atoi(strings.TrimSpace(d[5:]))
					if err != nil {
						return nil, fmt.Errorf("%s:%d: %q: %v", file, n, d, err)
					}
					b.exit = code
				case strings.HasPrefix(d, "output"):
					r := strings.TrimSpace(strings.TrimPrefix(d, "output"))
					if !strings.HasPrefix(r, "(") || !strings.HasSuffix(r, ")") || len(r) < 3 {
						return nil, fmt.Errorf("%s:%d: output needs the text: output (text)", file, n)
					}
					b.output = r[1 : len(r)-1]
				case d == "no-vault":
					b.noVault = true
				default:
					return nil, fmt.Errorf("%s:%d: unknown docs-test directive %q", file, n, d)
				}
			}
			pending = &b
			continue
		}
		if strings.HasPrefix(line, "```") {
			b := block{file: file, host: "metrics"}
			if pending != nil {
				b = *pending
				pending = nil
			}
			b.line, b.lang = n, strings.TrimSpace(line[3:])
			cur = &b
			continue
		}
		if pending != nil && strings.TrimSpace(line) != "" {
			return nil, fmt.Errorf("%s:%d: a docs-test directive must stand right before a fence", file, n-1)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: unclosed fence", file, cur.line)
	}
	return out, sc.Err()
}

// splitDirectives splits at the semicolons outside parentheses (a skip's
// reason may hold one).
func splitDirectives(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ';':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// pathRE finds the absolute paths pathMapping moves into a host's root:
// at the start of a word, after = ' " > ( or :.
var pathRE = regexp.MustCompile(`(^|[\s='"(>:])(/(?:etc|var|srv|opt|usr/local)(?:/|\b))`)

// pathMapping rewrites a block for the test: see the package comment.
func pathMapping(text, root, host, vaultAddr, repo, binary string) string {
	text = strings.ReplaceAll(text, "https://vault.golemtrust.am:8200", vaultAddr)
	text = strings.ReplaceAll(text, "sftp:backup@backup.golemtrust.am:/srv/restic/", repo+"/")
	text = regexp.MustCompile(`(^|\s)bin/backupwatch\b`).ReplaceAllString(text, "${1}"+binary)
	return pathRE.ReplaceAllString(text, "${1}"+filepath.Join(root, host)+"${2}")
}

func TestPathMapping(t *testing.T) {
	tests := []struct{ in, want string }{
		{"cat > /etc/restic/env", "cat > R/db/etc/restic/env"},
		{"--vault.role-id-file=/etc/vault/role-id", "--vault.role-id-file=R/db/etc/vault/role-id"},
		{`ARGS="/var/lib/x"`, `ARGS="R/db/var/lib/x"`},
		{"RESTIC_REPOSITORY=sftp:backup@backup.golemtrust.am:/srv/restic/db", "RESTIC_REPOSITORY=REPO/db"},
		{"--shell /usr/sbin/nologin", "--shell /usr/sbin/nologin"},
		{"head -c 32 /dev/urandom", "head -c 32 /dev/urandom"},
		{"curl -s localhost:10036/metrics", "curl -s localhost:10036/metrics"},
		{"VAULT_ADDR=https://vault.golemtrust.am:8200", "VAULT_ADDR=http://V"},
		{"bin/backupwatch --store.dir=data/records", "B --store.dir=data/records"},
		{"install -m 0755 bin/backupwatch /usr/local/bin/backupwatch", "install -m 0755 B R/db/usr/local/bin/backupwatch"},
	}
	for _, tt := range tests {
		if got := pathMapping(tt.in, "R", "db", "http://V", "REPO", "B"); got != tt.want {
			t.Errorf("pathMapping(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseBlocks(t *testing.T) {
	src := "x\n<!-- docs-test: skip (no systemd; no user) -->\n```sh\na\n```\n\n<!-- docs-test: on db; exit 3; output (store: Vault) -->\n```sh\nb\nc\n```\n```yaml\nk: v\n```\n"
	got, err := parseBlocks("f.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []block{
		{file: "f.md", line: 3, lang: "sh", text: "a\n", skip: "no systemd; no user", host: "metrics"},
		{file: "f.md", line: 8, lang: "sh", text: "b\nc\n", host: "db", exit: 3, output: "store: Vault"},
		{file: "f.md", line: 12, lang: "yaml", text: "k: v\n", host: "metrics"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseBlocks:\n got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{
		"<!-- docs-test: skip -->\n```sh\na\n```\n",
		"<!-- docs-test: frobnicate -->\n```sh\na\n```\n",
		"<!-- docs-test: output -->\n```sh\na\n```\n",
		"<!-- docs-test: on db -->\ntext\n```sh\na\n```\n",
	} {
		if _, err := parseBlocks("f.md", []byte(bad)); err == nil {
			t.Errorf("parseBlocks(%q): no error", bad)
		}
	}
}

// TestDocs runs the documents' shell blocks.
func TestDocs(t *testing.T) {
	var blocks []block
	for _, f := range docFiles {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := parseBlocks(filepath.Base(f), src)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, bs...)
	}
	var skips []string
	for _, b := range blocks {
		if b.skip != "" {
			skips = append(skips, fmt.Sprintf("%s:%d (%s)", b.file, b.line, b.skip))
		}
		if b.lang != "sh" && (b.skip != "" || b.host != "metrics" || b.exit != 0 || b.noVault || b.output != "") {
			t.Errorf("%s:%d: a docs-test directive on a %q block, which never runs", b.file, b.line, b.lang)
		}
	}
	if len(skips) > maxSkips {
		t.Errorf("%d skipped blocks, more than maxSkips (%d): make them runnable here or split out what cannot run:\n%s", len(skips), maxSkips, strings.Join(skips, "\n"))
	}
	t.Logf("%d blocks, %d skipped:\n%s", len(blocks), len(skips), strings.Join(skips, "\n"))

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	binary := filepath.Join(bin, "backupwatch")
	for _, b := range [][]string{
		{"go", "build", "-o", binary, "../cmd/backupwatch"},
		{"go", "build", "-o", filepath.Join(bin, "vault"), "./testdata/vaultcli"},
	} {
		if out, err := exec.Command(b[0], b[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(b, " "), err, out)
		}
	}
	// Debian's tools; the restic the guide installs (not tools/bin's).
	for _, tool := range []string{"restic", "promtool", "logrotate", "jq", "bash", "unshare"} {
		if _, err := os.Stat(filepath.Join("/usr/bin", tool)); err != nil {
			if _, err := os.Stat(filepath.Join("/usr/sbin", tool)); err != nil {
				t.Fatalf("Debian's %s is not installed: run `make deps`", tool)
			}
		}
	}

	vault := vaulttest.Start(t)
	// A fresh Vault, as the guide starts from: its section 2 enables kv/
	// and approle/ itself.
	c := vault.Client(t)
	if err := c.Sys().Unmount("kv"); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().DisableAuth("approle"); err != nil {
		t.Fatal(err)
	}

	root, repo, cwd := filepath.Join(dir, "root"), filepath.Join(dir, "repo"), filepath.Join(dir, "cwd")
	for _, d := range []string{repo, cwd, filepath.Join(dir, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hosts := map[string]bool{}
	ran := 0
	for _, b := range blocks {
		if b.lang != "sh" || b.skip != "" {
			continue
		}
		if !hosts[b.host] {
			for _, d := range skeleton {
				if err := os.MkdirAll(filepath.Join(root, b.host, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			hosts[b.host] = true
		}
		script := pathMapping(b.text, root, b.host, vault.Addr, repo, binary)
		env := []string{
			"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
			"HOME=" + filepath.Join(dir, "home"),
			"LANG=C.UTF-8",
			"BACKUPWATCH_SPOOL_DIR=" + filepath.Join(root, b.host, "var/spool/backupwatch"),
		}
		if !b.noVault {
			env = append(env, "VAULT_ADDR="+vault.Addr, "VAULT_TOKEN="+vault.RootToken)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		// On its own host name (a UTS namespace), as on that host:
		// backupwatch records and checks under the short host name.
		cmd := exec.CommandContext(ctx, "unshare", "--uts", "bash", "-c",
			`hostname "$1" && exec bash -e -o pipefail -c "$2"`, "bash", b.host, script)
		cmd.Dir, cmd.Env = cwd, env
		out, err := cmd.CombinedOutput()
		cancel()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s:%d: %v", b.file, b.line, err)
		}
		if code != b.exit {
			t.Errorf("%s:%d (on %s): exit %d, want %d\n--- as run:\n%s--- output:\n%s", b.file, b.line, b.host, code, b.exit, script, out)
		}
		if b.output != "" && !strings.Contains(string(out), b.output) {
			t.Errorf("%s:%d (on %s): the output does not hold %q\n--- as run:\n%s--- output:\n%s", b.file, b.line, b.host, b.output, script, out)
		}
		if strings.Contains(string(out), vault.RootToken) {
			t.Errorf("%s:%d: the Vault token appears in the output", b.file, b.line)
		}
		if testing.Verbose() {
			t.Logf("%s:%d on %s: exit %d\n%s", b.file, b.line, b.host, code, out)
		}
		ran++
	}
	if ran == 0 {
		t.Fatal("no block ran")
	}

	// What the guide promises of the files it makes.
	for _, f := range []string{"db/etc/vault/role-id", "db/etc/vault/secret-id", "metrics/etc/vault/role-id",
		"metrics/etc/vault/restore-tester/secret-id", "db/etc/restic/password", "db/etc/restic/env"} {
		fi, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Errorf("the guide did not create %s: %v", f, err)
			continue
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: group or others can read it", f, fi.Mode().Perm())
		}
	}
}
