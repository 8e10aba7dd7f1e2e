package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// Store is what the online check needs of any store.
type Store interface {
	List(ctx context.Context) ([]string, error)
	String() string
}

// Vault is what it needs of a store one logs in to: a store that is not
// one (the local store) is only listed.
type Vault interface {
	Store
	Get(ctx context.Context, key string) (map[string]any, error)
	KVVersion(ctx context.Context) (int, error)
	Capabilities(ctx context.Context, key string) ([]string, error)
	Location(key string) string
}

var _ Vault = (*vaultkv.Store)(nil)

// Online checks that credentials for role can do their job in st, reading
// but never writing. hostKey names the record a Writer must write; it is
// called only for that role, after the login.
func Online(ctx context.Context, st Store, role string, hostKey func() (string, error), say Say) error {
	vs, ok := st.(Vault)
	if !ok {
		keys, err := st.List(ctx)
		if err != nil {
			return err
		}
		say("online: %s: %d records, nothing to log in to", st.String(), len(keys))
		return nil
	}
	v, err := vs.KVVersion(ctx)
	if err != nil {
		return err
	}
	say("online: logged in to %s, KV version %d", vs.String(), v)

	key := status.RestoreTestKey
	switch role {
	case Exporter:
		keys, err := vs.List(ctx)
		if err != nil {
			return fmt.Errorf("the exporter must list the records: %w", err)
		}
		// jobs/ is a folder (of jobs, and of the records' histories), not
		// a record.
		keys = slices.DeleteFunc(keys, func(k string) bool { return strings.HasSuffix(k, "/") })
		if len(keys) > 0 {
			if _, err := vs.Get(ctx, keys[0]); err != nil && !errors.Is(err, status.ErrNotFound) {
				return fmt.Errorf("the exporter must read every record: %w", err)
			}
		}
		say("online: can list (%d records) and read them", len(keys))
		return nil
	case Writer:
		if key, err = hostKey(); err != nil {
			return err
		}
	}
	caps, err := vs.Capabilities(ctx, key)
	if err != nil {
		return err
	}
	if !vaultkv.CanWrite(caps) {
		return fmt.Errorf("cannot write %s: the token may only %s there (a %s needs create, read and update: see deploy/vault)", vs.Location(key), orNone(caps), role)
	}
	if _, err := vs.Get(ctx, key); err != nil && !errors.Is(err, status.ErrNotFound) {
		return fmt.Errorf("a %s must read its own record: %w", role, err)
	}
	say("online: can write %s (nothing was written)", vs.Location(key))
	return nil
}

func orNone(caps []string) string {
	if len(caps) == 0 || (len(caps) == 1 && caps[0] == "deny") {
		return "do nothing"
	}
	return strings.Join(caps, ", ")
}
