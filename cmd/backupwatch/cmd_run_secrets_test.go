package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/backuprun"
	"github.com/golemtrust/backupwatch/internal/parts"
	"github.com/golemtrust/backupwatch/internal/vaulttest"
)

// secretsRun is one `backupwatch` process of these tests, with what it
// left behind.
type secretsRun struct {
	code           int
	stdout, stderr string
}

// backupwatchProcess runs the test binary as backupwatch, in a fresh
// process, without the test's VAULT_* environment; extraEnv is added.
func backupwatchProcess(t *testing.T, stdin io.Reader, started chan<- struct{}, extraEnv []string, args ...string) secretsRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, runMainEnv+"=1"), extraEnv...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	errOut := &parts.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = &out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if started != nil {
		// Tell the caller once the program runs: its start is logged.
		go func() {
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if strings.Contains(errOut.String(), "backup started") {
					break
				}
			}
			close(started)
		}()
	}
	err := cmd.Wait()
	r := secretsRun{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String()}
	if err != nil && r.code < 0 {
		t.Fatalf("backupwatch %v: %v", args, err)
	}
	return r
}

// vaultRecords is every record under the prefix, as JSON, read with root:
// the records, and the histories and logs in jobs/ beside them.
func vaultRecords(t *testing.T, c *api.Client) string {
	t.Helper()
	var all []any
	var walk func(folder string)
	walk = func(folder string) {
		list, err := c.Logical().List("kv/metadata/golemtrust/backup-status" + folder)
		if err != nil || list == nil {
			t.Fatalf("list records%s: %v", folder, err)
		}
		for _, k := range list.Data["keys"].([]any) {
			if strings.HasSuffix(k.(string), "/") {
				walk(folder + "/" + strings.TrimSuffix(k.(string), "/"))
				continue
			}
			sec, err := c.Logical().Read("kv/data/golemtrust/backup-status" + folder + "/" + k.(string))
			if err != nil || sec == nil {
				t.Fatalf("read %v: %v", k, err)
			}
			all = append(all, sec.Data["data"])
		}
	}
	walk("")
	b, _ := json.Marshal(all)
	return string(b)
}

// treeText is every file name and content under dir.
func treeText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		b.WriteString(p + "\n")
		if d.Type().IsRegular() {
			c, _ := os.ReadFile(p)
			b.Write(c)
			b.WriteString("\n")
		}
		return nil
	})
	return b.String()
}

// statusPage renders the status page of a `serve` on the same Vault once
// it shows host's failure.
func statusPage(t *testing.T, globalArgs []string, want string) string {
	t.Helper()
	e := startExporter(t, globalArgs)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := e.get(t, "/")
		if code == 200 && strings.Contains(body, want) {
			e.stop(t)
			return body + e.log.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("status page never showed %q:\n%s", want, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// noSecret fails for each place that holds one of the secrets.
func noSecret(t *testing.T, places map[string]string, secrets ...string) {
	t.Helper()
	for where, text := range places {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %.12s…:\n%s", where, s, text)
			}
		}
	}
}

// TestRunScrubsSecretsFromFiles: a backup script that prints the Vault
// token or AppRole secret id backupwatch read from its file (set -x, cat)
// leaves it nowhere: not in the passed-through stdout and stderr, the
// backup log, backupwatch's own log lines, the record in Vault, the spool,
// or the status page that shows the record.
func TestRunScrubsSecretsFromFiles(t *testing.T) {
	v := vaulttest.Start(t)
	root := v.Client(t)
	v.PutPolicy(t, "rw", `path "kv/*" { capabilities = ["create","read","update","list","delete"] }
path "sys/internal/ui/mounts/*" { capabilities = ["read"] }`)
	roleID, secretID := v.AppRole(t, "db", []string{"rw"}, time.Hour, 0)
	tok, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{"rw"}})
	if err != nil {
		t.Fatal(err)
	}
	token := tok.Auth.ClientToken
	dir := t.TempDir()
	tokenFile := writeSecret(t, dir, "token", token)
	roleFile := writeSecret(t, dir, "role-id", roleID)
	sidFile := writeSecret(t, dir, "secret-id", secretID)
	spoolDir := filepath.Join(dir, "spool")
	vaultArgs := []string{"--vault.address=" + v.Addr, "--vault.kv-version=2", "--vault.timeout=2s", "--spool.dir=" + spoolDir, "--log.level=debug"}
	// The script prints the secret every way a careless one would.
	leak := `cat "$LEAK"; cat "$LEAK" >&2; echo "{\"message_type\":\"error\",\"error\":\"$(cat "$LEAK")\"}"; printf 'no newline %s' "$(cat "$LEAK")" >&2; exit 1`

	t.Run("token file", func(t *testing.T) {
		logFile := filepath.Join(dir, "token.log")
		r := backupwatchProcess(t, nil, nil, []string{"LEAK=" + tokenFile}, append(append([]string{}, vaultArgs...),
			"--vault.token-file="+tokenFile, "run", "--host=db", "--log.file="+logFile, "--lock.file="+filepath.Join(dir, "l1"), "--", "sh", "-c", leak)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want the script's 1\n%s", r.code, r.stderr)
		}
		log, _ := os.ReadFile(logFile)
		records := vaultRecords(t, root)
		if !strings.Contains(r.stdout, backuprun.Redacted) || !strings.Contains(string(log), "stderr: "+backuprun.Redacted) || !strings.Contains(records, "no newline "+backuprun.Redacted) {
			t.Errorf("the token was not replaced by %s\nstdout %q\nlog %s\nrecords %s", backuprun.Redacted, r.stdout, log, records)
		}
		page := statusPage(t, []string{"--vault.address=" + v.Addr, "--vault.kv-version=2", "--vault.token-file=" + tokenFile}, "no newline")
		noSecret(t, map[string]string{"stdout": r.stdout, "stderr": r.stderr, "backup log": string(log), "records": records, "status page": page}, token)
	})

	t.Run("approle secret id, spooled", func(t *testing.T) {
		logFile := filepath.Join(dir, "approle.log")
		stdinR, stdinW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdinR.Close()
		started := make(chan struct{})
		done := make(chan secretsRun, 1)
		// The role id is semi-confidential: scrubbed like the secret id.
		both := writeSecret(t, dir, "role-and-secret-id", secretID+"\n"+roleID)
		go func() {
			done <- backupwatchProcess(t, stdinR, started, []string{"LEAK=" + both}, append(append([]string{}, vaultArgs...),
				"--vault.role-id-file="+roleFile, "--vault.secret-id-file="+sidFile, "run", "--host=db", "--log.file="+logFile, "--lock.file="+filepath.Join(dir, "l2"), "--", "sh", "-c", "read x; "+leak)...)
		}()
		<-started
		v.Stop(t) // the outcome goes to the spool
		stdinW.Write([]byte("go\n"))
		stdinW.Close()
		r := <-done
		if r.code != 1 || !strings.Contains(r.stderr, "kept in the spool") {
			t.Fatalf("exit %d, want the script's 1 and the outcome spooled\n%s", r.code, r.stderr)
		}
		spooled := treeText(t, spoolDir)
		if !strings.Contains(spooled, "no newline "+backuprun.Redacted) {
			t.Errorf("the spool does not hold the scrubbed outcome:\n%s", spooled)
		}
		v.Restart(t)
		f := backupwatchProcess(t, nil, nil, nil, append(append([]string{}, vaultArgs...), "--vault.role-id-file="+roleFile, "--vault.secret-id-file="+sidFile, "flush")...)
		if f.code != 0 {
			t.Fatalf("flush: exit %d\n%s", f.code, f.stderr)
		}
		log, _ := os.ReadFile(logFile)
		noSecret(t, map[string]string{"stdout": r.stdout, "stderr": r.stderr, "backup log": string(log), "spool": spooled, "records": vaultRecords(t, root), "flush": f.stderr}, secretID, roleID)
	})

	t.Run("wrapped secret id", func(t *testing.T) {
		const custom = "custom-secret-id-0123456789abcdef"
		c := v.Client(t)
		c.SetWrappingLookupFunc(func(string, string) string { return "5m" })
		wr, err := c.Logical().Write("auth/approle/role/db/custom-secret-id", map[string]any{"secret_id": custom})
		if err != nil || wr == nil || wr.WrapInfo == nil {
			t.Fatalf("wrapping a secret id: %v", err)
		}
		wrapFile := writeSecret(t, dir, "wrapped", wr.WrapInfo.Token)
		both := writeSecret(t, dir, "both", wr.WrapInfo.Token+"\n"+custom)
		logFile := filepath.Join(dir, "wrapped.log")
		r := backupwatchProcess(t, nil, nil, []string{"LEAK=" + both}, append(append([]string{}, vaultArgs...),
			"--vault.role-id-file="+roleFile, "--vault.secret-id-file="+wrapFile, "--vault.secret-id-wrapped", "run", "--host=db", "--log.file="+logFile, "--lock.file="+filepath.Join(dir, "l3"), "--", "sh", "-c", leak)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want the script's 1\n%s", r.code, r.stderr)
		}
		log, _ := os.ReadFile(logFile)
		noSecret(t, map[string]string{"stdout": r.stdout, "stderr": r.stderr, "backup log": string(log), "records": vaultRecords(t, root)}, wr.WrapInfo.Token, custom)
	})

	t.Run("program path", func(t *testing.T) {
		logFile := filepath.Join(dir, "path.log")
		r := backupwatchProcess(t, nil, nil, nil, append(append([]string{}, vaultArgs...),
			"--vault.token-file="+tokenFile, "run", "--host=db", "--log.file="+logFile, "--lock.file="+filepath.Join(dir, "l4"), "--", "/nonexistent/"+token+"/restic", "backup")...)
		if r.code != 127 || !strings.Contains(r.stderr, "start /nonexistent/"+backuprun.Redacted+"/restic") {
			t.Fatalf("exit %d, want 127 and the program named, scrubbed\n%s", r.code, r.stderr)
		}
		log, _ := os.ReadFile(logFile)
		noSecret(t, map[string]string{"stderr": r.stderr, "backup log": string(log), "records": vaultRecords(t, root)}, token)
	})

	t.Run("restore-test run", func(t *testing.T) {
		fake := filepath.Join(dir, "fake-restic")
		if err := os.WriteFile(fake, []byte("#!/bin/sh\ncat \"$LEAK\" >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		r := backupwatchProcess(t, nil, nil, []string{"LEAK=" + tokenFile, "RESTIC_PASSWORD=restic-password-value"}, append(append([]string{}, vaultArgs...),
			"--vault.token-file="+tokenFile, "restore-test", "run", "--repo="+filepath.Join(dir, "repo"), "--restic.binary="+fake)...)
		records := vaultRecords(t, root)
		if r.code != 1 || !strings.Contains(records, backuprun.Redacted) {
			t.Fatalf("exit %d, want 1 and a failure with the token scrubbed\n%s\n%s", r.code, r.stderr, records)
		}
		noSecret(t, map[string]string{"stderr": r.stderr, "records": records}, token)
	})
}

// TestRunVaultAddressCredentials: a password in VAULT_ADDR reaches neither
// errors, logs, the spool folder's name nor the status page.
func TestRunVaultAddressCredentials(t *testing.T) {
	const pw = "pw-in-vault-addr-31337"
	v := vaulttest.Start(t)
	u, err := url.Parse(v.Addr)
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://backup:" + pw + "@" + u.Host
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	env := []string{"VAULT_ADDR=" + addr, "VAULT_TOKEN=" + v.RootToken}
	args := []string{"--vault.kv-version=2", "--vault.timeout=2s", "--spool.dir=" + spoolDir, "--log.level=debug", "run", "--host=db", "--lock.file=" + filepath.Join(dir, "l"), "--log.file=" + filepath.Join(dir, "log"), "--", "sh", "-c", `echo "using $VAULT_ADDR" >&2; exit 1`}

	v.Stop(t)
	down := backupwatchProcess(t, nil, nil, env, args...)
	if down.code != 1 || !strings.Contains(down.stderr, "kept in the spool") {
		t.Fatalf("Vault down: exit %d, want 1 and the result spooled\n%s", down.code, down.stderr)
	}
	spooled := treeText(t, spoolDir)
	v.Restart(t)
	up := backupwatchProcess(t, nil, nil, env, args...)
	if up.code != 1 {
		t.Fatalf("Vault up: exit %d\n%s", up.code, up.stderr)
	}
	rec := vaultRecords(t, v.Client(t))
	if !strings.Contains(rec, "using http://backup:"+backuprun.Redacted+"@") {
		t.Errorf("record %s: want the address's password scrubbed from the message", rec)
	}
	t.Setenv("VAULT_TOKEN", v.RootToken)
	page := statusPage(t, []string{"--vault.address=" + addr, "--vault.kv-version=2"}, "using http://backup")
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	noSecret(t, map[string]string{"stderr (down)": down.stderr, "stderr (up)": up.stderr, "spool": spooled, "records": rec, "status page": page, "backup log": string(log)}, pw)
}
