package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

const (
	mount  = "kv"
	prefix = "golemtrust/backup-status"
	role   = "backupwatch-bench"
)

// shippedPolicy is the exporter's policy as shipped, from the repository
// root: what the exporter, the bare loop and the script may do (read the
// records, the checks, list them). Root would skip Vault's ACL checks and
// make every reader look faster than it is in production.
const shippedPolicy = "deploy/vault/backupwatch-exporter.hcl"

// loadPolicy reads a policy file.
func loadPolicy(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("the exporter's policy: %w (run the bench from the repository root, or set -policy)", err)
	}
	return string(b), nil
}

// vault is a running vaultdev and what the bench set up in it.
type vault struct {
	addr         string
	rootToken    string
	roleIDFile   string
	secretIDFile string
	hc           *http.Client
}

// startVault runs vaultdev with in-memory storage on a free loopback port
// and waits for its ready line.
func startVault(ctx context.Context, procs *procs, bin, dir string) (*vault, error) {
	initFile := filepath.Join(dir, "init.json")
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-init-file", initFile)
	logPath := filepath.Join(dir, "vaultdev.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := procs.start("vaultdev", cmd, logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w (run `make vaultdev`)", bin, err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "vaultdev ready addr="); ok {
				ready <- a
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var addr string
	select {
	case addr = <-ready:
	case <-p.done:
		return nil, fmt.Errorf("vaultdev exited before it was ready: %v\n%s", p.cmd.ProcessState, tail(logPath))
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("vaultdev not ready after 60s\n%s", tail(logPath))
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	b, err := os.ReadFile(initFile)
	if err != nil {
		return nil, fmt.Errorf("vaultdev: %w", err)
	}
	var keys struct {
		RootToken string `json:"root_token"`
	}
	if err := json.Unmarshal(b, &keys); err != nil || keys.RootToken == "" {
		return nil, fmt.Errorf("vaultdev: %s holds no root token (%v)", initFile, err)
	}
	return &vault{
		addr:      addr,
		rootToken: keys.RootToken,
		hc: &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 16},
		},
	}, nil
}

// call sends one request to the Vault API and decodes the answer into out.
func (v *vault) call(ctx context.Context, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.addr+"/v1/"+path, body)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := v.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// setUp mounts KV v2 at kv/, enables AppRole with a read-only role and
// writes its role id and secret id to files, as the runbook keeps them in
// /etc/vault.
func (v *vault) setUp(ctx context.Context, dir, policy string) error {
	steps := []struct {
		method, path string
		body         any
	}{
		{"POST", "sys/mounts/" + mount, map[string]any{"type": "kv", "options": map[string]string{"version": "2"}}},
		{"POST", "sys/auth/approle", map[string]any{"type": "approle"}},
		{"PUT", "sys/policies/acl/" + role, map[string]any{"policy": policy}},
		{"POST", "auth/approle/role/" + role, map[string]any{"token_policies": role, "token_ttl": "2h", "token_max_ttl": "4h"}},
	}
	for _, s := range steps {
		if err := v.call(ctx, v.rootToken, s.method, s.path, s.body, nil); err != nil {
			return err
		}
	}
	var rid, sid struct {
		Data map[string]any `json:"data"`
	}
	if err := v.call(ctx, v.rootToken, "GET", "auth/approle/role/"+role+"/role-id", nil, &rid); err != nil {
		return err
	}
	if err := v.call(ctx, v.rootToken, "POST", "auth/approle/role/"+role+"/secret-id", nil, &sid); err != nil {
		return err
	}
	roleID, _ := rid.Data["role_id"].(string)
	secretID, _ := sid.Data["secret_id"].(string)
	if roleID == "" || secretID == "" {
		return errors.New("approle: empty role id or secret id")
	}
	v.roleIDFile = filepath.Join(dir, "role-id")
	v.secretIDFile = filepath.Join(dir, "secret-id")
	if err := os.WriteFile(v.roleIDFile, []byte(roleID+"\n"), 0o600); err != nil {
		return err
	}
	return os.WriteFile(v.secretIDFile, []byte(secretID+"\n"), 0o600)
}

// login logs in with the AppRole, as the runbook's script does, and
// returns the token.
func (v *vault) login(ctx context.Context) (string, error) {
	roleID, err := os.ReadFile(v.roleIDFile)
	if err != nil {
		return "", err
	}
	secretID, err := os.ReadFile(v.secretIDFile)
	if err != nil {
		return "", err
	}
	var out struct {
		Auth struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	in := map[string]string{"role_id": strings.TrimSpace(string(roleID)), "secret_id": strings.TrimSpace(string(secretID))}
	if err := v.call(ctx, "", "POST", "auth/approle/login", in, &out); err != nil {
		return "", err
	}
	if out.Auth.ClientToken == "" {
		return "", errors.New("approle login: no token in the answer")
	}
	return out.Auth.ClientToken, nil
}

// readerToken is the token the bare loop and `backupwatch serve` read with.
func (v *vault) readerToken(ctx context.Context, root bool) (string, error) {
	if root {
		return v.rootToken, nil
	}
	return v.login(ctx)
}

// fleetData is what the bench wrote, to check every reader against.
type fleetData struct {
	hosts  []string // in the order written
	failed int      // hosts whose status is failed
}

// hostName spreads hosts over the runbook's roles: auth-00001, db-00002...
func hostName(i int) string {
	roles := []string{"auth", "db", "graylog", "vault", "metrics", "web", "app", "mq"}
	return fmt.Sprintf("%s-%05d.golemtrust.am", roles[i%len(roles)], i)
}

// record makes host i's record as the fleet would have it: half written by
// the runbook's backup scripts (status, last_success, last_failure only),
// half by `backupwatch record` (with exit code, duration and restic's
// snapshot summary); about one in twenty failed, a few overdue.
func record(i int, now time.Time) (map[string]any, bool) {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	ago := func(min, max time.Duration) time.Time {
		return now.Add(-(min + time.Duration(r.Int64N(int64(max-min)))))
	}
	lastSuccess := ago(time.Hour, 23*time.Hour)
	failed := r.IntN(20) == 0
	if !failed && r.IntN(50) == 0 {
		lastSuccess = ago(26*time.Hour, 5*24*time.Hour) // overdue
	}
	var lastFailure time.Time
	if failed {
		lastFailure = ago(10*time.Minute, 12*time.Hour)
		lastSuccess = ago(25*time.Hour, 4*24*time.Hour)
	} else if r.IntN(4) == 0 {
		lastFailure = ago(2*24*time.Hour, 30*24*time.Hour)
	}

	if i%2 == 0 {
		doc := map[string]any{status.FieldStatus: status.Success, status.FieldLastSuccess: status.FormatTime(lastSuccess)}
		if failed {
			doc[status.FieldStatus] = status.Failed
		}
		if !lastFailure.IsZero() {
			doc[status.FieldLastFailure] = status.FormatTime(lastFailure)
		}
		return doc, failed
	}

	var doc map[string]any
	if !lastFailure.IsZero() && lastFailure.Before(lastSuccess) {
		doc, _ = status.Apply(doc, failure(r, lastFailure))
	}
	code, dur := int64(0), 60+r.Float64()*3000
	doc, _ = status.Apply(doc, status.Result{
		Outcome: status.Success, At: lastSuccess, ExitCode: &code, Duration: &dur,
		Extra: map[string]string{
			status.FieldSnapshotID:      fmt.Sprintf("%08x", r.Uint32()),
			status.FieldBytesAdded:      fmt.Sprint(r.Int64N(5 << 30)),
			status.FieldFilesNew:        fmt.Sprint(r.IntN(2000)),
			status.FieldFilesChanged:    fmt.Sprint(r.IntN(500)),
			status.FieldFilesUnmodified: fmt.Sprint(10000 + r.IntN(200000)),
		},
	})
	if failed {
		doc, _ = status.Apply(doc, failure(r, lastFailure))
	}
	delete(doc, status.FieldHistory) // a store keeps it out of the record
	return doc, failed
}

func failure(r *rand.Rand, at time.Time) status.Result {
	code, dur := int64(1), 5+r.Float64()*100
	return status.Result{Outcome: status.Failed, At: at, ExitCode: &code, Duration: &dur,
		Message: "Fatal: unable to open repository at sftp:backup@storage-1:/srv/restic: connection refused"}
}

// fillWriters write at once when filling Vault: Vault's storage takes
// concurrent writes, and filling 100,000 hosts must not dominate the run.
const fillWriters = 32

// fill writes hosts from len(f.hosts) up to n, with fillWriters writers, and the
// restore-test record the first time.
func (v *vault) fill(ctx context.Context, f *fleetData, n int) error {
	now := time.Now()
	if len(f.hosts) == 0 {
		rt := map[string]any{
			status.FieldLastTest:             status.FormatTime(now.Add(-41 * 24 * time.Hour)),
			status.FieldResult:               status.Passed,
			status.FieldHostTested:           "db.golemtrust.am",
			status.FieldTimeToRestoreMinutes: "47",
			status.FieldNotes:                "Merchants Guild database restored successfully to staging",
		}
		if err := v.put(ctx, status.RestoreTestKey, rt); err != nil {
			return err
		}
	}
	from := len(f.hosts)
	docs := make([]map[string]any, n-from)
	for i := from; i < n; i++ {
		doc, failed := record(i, now)
		docs[i-from] = doc
		f.hosts = append(f.hosts, hostName(i))
		if failed {
			f.failed++
		}
	}

	work := make(chan int)
	errs := make(chan error, fillWriters)
	var wg sync.WaitGroup
	for range fillWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := v.put(ctx, f.hosts[i], docs[i-from]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := from; i < n; i++ {
		select {
		case work <- i:
		case err = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err != nil {
		return err
	}
	return <-errs
}

// put writes one record with the root token, retrying briefly: a freshly
// mounted KV v2 engine may refuse writes for a moment while it sets up.
func (v *vault) put(ctx context.Context, key string, doc map[string]any) error {
	path := mount + "/data/" + prefix + "/" + url.PathEscape(key)
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = v.call(ctx, v.rootToken, "PUT", path, map[string]any{"data": doc}, nil); err == nil {
			return nil
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}
