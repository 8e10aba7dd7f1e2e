package spool

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/golemtrust/backupwatch/internal/lockfile"
	"github.com/golemtrust/backupwatch/internal/status"
)

// Lock serialises delivery between processes (and goroutines): whoever
// holds it delivers the pending entries before its own, so their order is
// kept. It waits for the lock until ctx is done.
func (s *Spool) Lock(ctx context.Context) (unlock func(), err error) {
	if err := s.create(); err != nil {
		return nil, err
	}
	unlock, err = lockfile.Lock(ctx, filepath.Join(s.dir, lockName))
	if errors.Is(err, lockfile.ErrHeld) {
		return nil, fmt.Errorf("lock spool %s: another backupwatch is delivering: %w", s.dir, err)
	}
	return unlock, err
}

// LockKey serialises the writers of one store key on this machine, which
// KV v1 needs: it has no check-and-set, so two read-modify-writes of one
// record at once lose one of them. The lock is a file per key under
// locks/, waited for until ctx is done. Writers on other machines are not
// serialised by it.
func (s *Spool) LockKey(ctx context.Context, key string) (unlock func(), err error) {
	if err := s.create(); err != nil {
		return nil, err
	}
	dir := filepath.Join(s.dir, keyLockDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	return lockfile.Lock(ctx, filepath.Join(dir, keyFileName(key)+".lock"))
}

// keyFileName is a file name for a store key: the key itself when it is a
// plain host name (as ValidateHost makes it), else a digest.
func keyFileName(key string) string {
	if key == status.RestoreTestKey || (status.ValidateHost(key) == nil && !strings.HasPrefix(key, ".")) {
		return key
	}
	return fmt.Sprintf("key-%x", sha256.Sum256([]byte(key)))[:40]
}
