package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/poly1305" //nolint:staticcheck // restic's MAC is Poly1305-AES
)

// targetRepoRatio: repo-check against restic snapshots --json alone on the
// same repository (issue 19), at targetRepoSnapshots.
const (
	targetRepoRatio     = 1.25
	targetRepoSnapshots = 100000
)

// repoResult is repo-check timed against the bare listing.
type repoResult struct {
	hosts, snapshots int
	built            time.Duration // building the repository, when it was not reused
	bare, bw         []time.Duration
	bareCPU, bwCPU   []time.Duration // user+system, restic included
	bareRSS, bwRSS   int64           // peak resident, bytes, the largest of each run
}

// benchRepoCheck times `backupwatch repo-check` and `restic snapshots
// --json` alone, in turns after a warm-up of each, on a repository of
// o.repoHosts hosts and o.repoSnapshots snapshots (built in o.repoDir the
// first time, reused after).
func benchRepoCheck(ctx context.Context, o options, dir string) (*repoResult, error) {
	res := &repoResult{hosts: o.repoHosts, snapshots: o.repoSnapshots}
	repo := filepath.Join(o.repoDir, fmt.Sprintf("%dx%d", o.repoHosts, o.repoSnapshots))
	env := append(os.Environ(), "RESTIC_PASSWORD=bench", "RESTIC_REPOSITORY="+repo, "RESTIC_CACHE_DIR="+filepath.Join(dir, "restic-cache"))
	if _, err := os.Stat(filepath.Join(repo, "bench-complete")); err != nil {
		progress("building a restic repository of %d snapshots of %d hosts in %s (once: it is reused)", o.repoSnapshots, o.repoHosts, repo)
		t0 := time.Now()
		if err := buildRepo(ctx, o.restic, repo, env, o.repoHosts, o.repoSnapshots); err != nil {
			return nil, fmt.Errorf("building the repository: %w", err)
		}
		res.built = time.Since(t0)
	}
	bare := func() (time.Duration, time.Duration, int64, error) {
		return timeCmd(exec.CommandContext(ctx, o.restic, "--no-cache", "snapshots", "--json", "--no-lock"), env)
	}
	store := filepath.Join(dir, "repo-records")
	bw := func() (time.Duration, time.Duration, int64, error) {
		return timeCmd(exec.CommandContext(ctx, o.backupwatch, "--store.dir="+store, "--log.level=warn", "repo-check", "--name=bench", "--restic.binary="+o.restic), env)
	}
	progress("repo-check against restic snapshots --json, %d runs each after a warm-up", o.repoRuns)
	for i := 0; i <= o.repoRuns; i++ {
		first, second := bare, bw
		if i%2 == 1 {
			first, second = bw, bare
		}
		w1, c1, r1, err := first()
		if err != nil {
			return nil, err
		}
		w2, c2, r2, err := second()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			continue
		}
		if i%2 == 1 {
			w1, c1, r1, w2, c2, r2 = w2, c2, r2, w1, c1, r1
		}
		res.bare, res.bareCPU, res.bareRSS = append(res.bare, w1), append(res.bareCPU, c1), max(res.bareRSS, r1)
		res.bw, res.bwCPU, res.bwRSS = append(res.bw, w2), append(res.bwCPU, c2), max(res.bwRSS, r2)
	}
	return res, nil
}

// timeCmd runs cmd, its output discarded, and returns its wall time, its
// CPU time and peak resident memory (its children's included: restic's).
func timeCmd(cmd *exec.Cmd, env []string) (wall, cpu time.Duration, rss int64, err error) {
	cmd.Env = env
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	wall = time.Since(t0)
	ps := cmd.ProcessState
	cpu = ps.UserTime() + ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10
	}
	return wall, cpu, rss, nil
}

// buildRepo makes a repository of n snapshots of hosts hosts: one made by
// restic backup, the others written as restic writes a snapshot (its JSON,
// encrypted with the repository's master key, named by its hash), with
// restic 0.19's fields and summary. restic backup per snapshot would take
// hours; restic reads these as its own (restic snapshots checks each
// one's hash and MAC).
func buildRepo(ctx context.Context, restic, repo string, env []string, hosts, n int) error {
	if err := os.RemoveAll(repo); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(repo), 0o755); err != nil {
		return err
	}
	run := func(stdin io.Reader, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, restic, args...)
		cmd.Env, cmd.Stdin = env, stdin
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("restic %s: %w: %s", args[0], err, stderr.Bytes())
		}
		return out, nil
	}
	if _, err := run(nil, "init", "-q"); err != nil {
		return err
	}
	if _, err := run(strings.NewReader("bench\n"), "backup", "-q", "--stdin", "--stdin-filename", "bench", "--host", "host-0000", "--tag", "backupwatch-job=files"); err != nil {
		return err
	}
	out, err := run(nil, "snapshots", "--json")
	if err != nil {
		return err
	}
	var first []struct {
		Tree string `json:"tree"`
	}
	if err := json.Unmarshal(out, &first); err != nil || len(first) != 1 {
		return fmt.Errorf("restic snapshots: %d snapshots, %v", len(first), err)
	}
	mk, err := run(nil, "cat", "masterkey")
	if err != nil {
		return err
	}
	var key struct {
		MAC struct {
			K, R []byte
		} `json:"mac"`
		Encrypt []byte `json:"encrypt"`
	}
	if err := json.Unmarshal(mk, &key); err != nil || len(key.Encrypt) != 32 || len(key.MAC.K) != 16 || len(key.MAC.R) != 16 {
		return fmt.Errorf("restic cat masterkey: not a key: %v", err)
	}
	enc, err := aes.NewCipher(key.Encrypt)
	if err != nil {
		return err
	}
	macK, err := aes.NewCipher(key.MAC.K)
	if err != nil {
		return err
	}
	// Poly1305's r, clamped as restic clamps it.
	mask := [16]byte{0xff, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f}
	var r [16]byte
	for i := range r {
		r[i] = key.MAC.R[i] & mask[i]
	}
	t0 := time.Now().Add(-time.Duration(n) * time.Minute).UTC().Truncate(time.Second)
	for i := 1; i < n; i++ {
		if i%10000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		plain := fmt.Sprintf(`{"time":%q,"tree":%q,"paths":["/srv","/etc"],"hostname":"host-%04d","username":"root","tags":["backupwatch-job=files"],"program_version":"restic 0.19.1","summary":{"backup_start":%q,"backup_end":%q,"files_new":12,"files_changed":3,"files_unmodified":40000,"dirs_new":0,"dirs_changed":4,"dirs_unmodified":3000,"data_blobs":15,"tree_blobs":5,"data_added":1048576,"data_added_packed":524288,"total_files_processed":40015,"total_bytes_processed":1073741824}}`,
			at.Format(time.RFC3339Nano), first[0].Tree, i%hosts, at.Format(time.RFC3339Nano), at.Add(time.Second).Format(time.RFC3339Nano))
		// restic's Seal: IV, AES-256-CTR, Poly1305-AES over the ciphertext.
		sealed := make([]byte, 16+len(plain)+16)
		if _, err := rand.Read(sealed[:16]); err != nil {
			return err
		}
		cipher.NewCTR(enc, sealed[:16]).XORKeyStream(sealed[16:16+len(plain)], []byte(plain))
		var pk [32]byte
		copy(pk[:16], r[:])
		macK.Encrypt(pk[16:], sealed[:16])
		var tag [16]byte
		poly1305.Sum(&tag, sealed[16:16+len(plain)], &pk)
		copy(sealed[16+len(plain):], tag[:])
		id := sha256.Sum256(sealed)
		if err := os.WriteFile(filepath.Join(repo, "snapshots", hex.EncodeToString(id[:])), sealed, 0o600); err != nil {
			return err
		}
	}
	out, err = run(nil, "snapshots", "--json", "--no-lock")
	if err != nil {
		return err
	}
	if got := bytes.Count(out, []byte(`"hostname":`)); got != n {
		return fmt.Errorf("restic lists %d snapshots of the %d written", got, n)
	}
	return os.WriteFile(filepath.Join(repo, "bench-complete"), nil, 0o644)
}

// print reports repo-check against the bare listing; a missed target is
// added to misses.
func (r *repoResult) print(w io.Writer, misses *[]string) {
	bare, bw := median(r.bare), median(r.bw)
	fmt.Fprintf(w, "repo-check on a local repository of %d snapshots of %d hosts (restic 0.19's fields and summary), median of %d runs in turns after a warm-up:\n", r.snapshots, r.hosts, len(r.bare))
	if r.built > 0 {
		fmt.Fprintf(w, "  (the repository was built in this run, in %s)\n", fmtDur(r.built))
	}
	ratio, verdict := "-", ""
	if bare > 0 {
		x := float64(bw) / float64(bare)
		ratio = fmt.Sprintf("%.2f×", x)
		switch {
		case r.snapshots < targetRepoSnapshots:
			verdict = fmt.Sprintf("target applies at %d snapshots", targetRepoSnapshots)
		case x > targetRepoRatio:
			verdict = fmt.Sprintf("MISSES target (≤ %.2f×)", targetRepoRatio)
			*misses = append(*misses, fmt.Sprintf("repo-check is %.2f× restic snapshots --json", x))
		default:
			verdict = fmt.Sprintf("meets target (≤ %.2f×)", targetRepoRatio)
		}
	}
	fmt.Fprintf(w, "  restic snapshots --json alone %s (%s), backupwatch repo-check %s (%s): %s %s\n", fmtDur(bare), spread(r.bare), fmtDur(bw), spread(r.bw), ratio, verdict)
	// A local repository's size is its files' sizes, summed at every
	// check (no restic stats, whatever --size.interval says): each timed
	// run measures it, as the shipped daily timer's checks do.
	fmt.Fprintf(w, "  (each run measures the size, as every check of a local repository does: the sum of its files' sizes, no restic stats)\n")
	cb, cw := median(r.bareCPU), median(r.bwCPU)
	if cb > 0 {
		fmt.Fprintf(w, "  CPU (user+system, restic's included): %s alone, %s repo-check (%.2f×); peak resident: %.1f MB alone, %.1f MB the largest of repo-check's processes\n",
			fmtDur(cb), fmtDur(cw), float64(cw)/float64(cb), float64(r.bareRSS)/1e6, float64(r.bwRSS)/1e6)
	}
}
