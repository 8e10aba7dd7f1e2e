package repocheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
)

// A repository's record holds its hosts inline while they are few. Past
// ShardBytes of hosts (some 2,000 to 3,000 hosts), they move into shard
// records beside it, <name>~hosts-<i>, each at most ShardBytes, and the
// record says how many (host_shards): Vault on Raft storage refuses an entry
// over 1 MiB (max_entry_size), which one record of some 7,000 hosts
// exceeds. '~' is in no repository or host name, so a shard is never taken
// for a repository. The shards are written first and the record last, and
// shards left over from a larger fleet are emptied after it (not deleted:
// the repo-checker's policy grants no delete, which would let it delete
// the records themselves): a reader between the writes sees each host
// once, either as before or as now.
const (
	FieldHostShards        = "host_shards"         // N: the hosts are in N shard records
	FieldHostShardsMissing = "host_shards_missing" // set by Assemble: shards not found
	fieldShardOf           = "repository"          // a shard's repository
)

// ShardBytes bounds the JSON of the hosts in one record: half of Raft's
// 1 MiB entry limit, leaving room for Vault's own encoding of the entry.
const ShardBytes = 512 << 10

// MaxShards bounds the shards read for one repository: MaxHosts of the
// longest names fit in fewer.
const MaxShards = 256

// ShardKey is the key of shard i of repository name's hosts.
func ShardKey(name string, i int) string { return fmt.Sprintf("%s~hosts-%d", name, i) }

// IsShardKey reports whether key is a shard of some repository's hosts.
func IsShardKey(key string) bool { return strings.Contains(key, "~hosts-") }

// Store is what Load and Save need of a record store.
type Store interface {
	Get(ctx context.Context, key string) (map[string]any, error)
	Update(ctx context.Context, key string, fn func(old map[string]any) (map[string]any, bool, error)) error
}

// Load reads repository name's record with its hosts from its shards, as
// one document (nil when there is none or it is malformed).
func Load(ctx context.Context, st Store, name string) (map[string]any, error) {
	get := func(key string) (map[string]any, bool, error) {
		d, err := st.Get(ctx, key)
		switch {
		case err == nil:
			return d, true, nil
		case errors.Is(err, status.ErrNotFound), errors.Is(err, status.ErrMalformed):
			return nil, false, nil
		}
		return nil, false, err
	}
	doc, ok, err := get(name)
	if err != nil || !ok {
		return nil, err
	}
	var fail error
	out := Assemble(name, doc, func(key string) (map[string]any, bool) {
		d, ok, err := get(key)
		if err != nil && fail == nil {
			fail = fmt.Errorf("read %s: %w", key, err)
		}
		return d, ok
	})
	return out, fail
}

// Assemble returns the record doc of repository name with the hosts of its
// shards (read with get) put back inline; missing shards are counted in
// host_shards_missing, which Parse reports.
func Assemble(name string, doc map[string]any, get func(key string) (map[string]any, bool)) map[string]any {
	n, err := count(doc[FieldHostShards])
	if err != nil || n == nil || *n == 0 {
		return doc
	}
	out := maps.Clone(doc)
	delete(out, FieldHostShards)
	hosts := map[string]any{}
	if h, ok := doc[FieldHosts].(map[string]any); ok {
		maps.Copy(hosts, h)
	}
	missing := 0
	for i := range int(min(*n, MaxShards)) {
		d, ok := get(ShardKey(name, i))
		h, isMap := d[FieldHosts].(map[string]any)
		if !ok || !isMap || str(d[fieldShardOf]) != name {
			missing++
			continue
		}
		maps.Copy(hosts, h)
	}
	out[FieldHosts] = hosts
	if missing > 0 {
		out[FieldHostShardsMissing] = strconv.Itoa(missing)
	}
	return out
}

// Save applies fn to repository name's record as Load reads it and writes
// the result, its hosts inline or in shards by their size.
func Save(ctx context.Context, st Store, name string, fn func(cur map[string]any) map[string]any) error {
	cur, err := Load(ctx, st, name)
	if err != nil {
		return err
	}
	oldShards := 0
	if cur != nil {
		// Load consumed the count: read it again from the record itself.
		if d, err := st.Get(ctx, name); err == nil {
			if n, err := count(d[FieldHostShards]); err == nil && n != nil {
				oldShards = int(min(*n, MaxShards))
			}
		}
	}
	doc := fn(cur)
	delete(doc, FieldHostShardsMissing)
	delete(doc, FieldHostShards)
	hosts, _ := doc[FieldHosts].(map[string]any)
	shards, err := split(hosts)
	if err != nil {
		return err
	}
	if len(shards) > 1 {
		for i, h := range shards {
			shard := map[string]any{fieldShardOf: name, FieldHosts: h}
			if err := st.Update(ctx, ShardKey(name, i), replace(shard)); err != nil {
				return fmt.Errorf("write shard %d of %d of the hosts: %w", i+1, len(shards), err)
			}
		}
		doc[FieldHosts] = map[string]any{}
		doc[FieldHostShards] = strconv.Itoa(len(shards))
	}
	if err := st.Update(ctx, name, replace(doc)); err != nil {
		return err
	}
	written := len(shards)
	if written == 1 {
		written = 0
	}
	for i := written; i < oldShards; i++ {
		empty := map[string]any{fieldShardOf: name, FieldHosts: map[string]any{}}
		if err := st.Update(ctx, ShardKey(name, i), replace(empty)); err != nil {
			return fmt.Errorf("empty shard %d of the hosts, left over: %w", i, err)
		}
	}
	return nil
}

func replace(doc map[string]any) func(map[string]any) (map[string]any, bool, error) {
	return func(map[string]any) (map[string]any, bool, error) { return doc, true, nil }
}

// split cuts hosts into groups of at most ShardBytes of JSON each, by name
// order; one group when they fit.
func split(hosts map[string]any) ([]map[string]any, error) {
	names := slices.Sorted(maps.Keys(hosts))
	var (
		out  []map[string]any
		cur  = map[string]any{}
		size = 2
	)
	for _, h := range names {
		b, err := json.Marshal(hosts[h])
		if err != nil {
			return nil, fmt.Errorf("encode host %s: %w", h, err)
		}
		n := len(h) + len(b) + 4 // "name":entry,
		if size+n > ShardBytes && len(cur) > 0 {
			out = append(out, cur)
			cur, size = map[string]any{}, 2
		}
		cur[h] = hosts[h]
		size += n
	}
	return append(out, cur), nil
}
