# backupwatch-exporter: read-only access for `backupwatch serve`, `textfile`
# and `status`. Lists the hosts and reads every record, the restore test
# included; can write nothing. Covers a KV v2 mount (data/, metadata/) and a
# KV v1 mount at the same path, so it works with either.

# KV v2
path "kv/data/golemtrust/backup-status/*" {
  capabilities = ["read"]
}
path "kv/metadata/golemtrust/backup-status/*" {
  capabilities = ["list"]
}

# KV v1
path "kv/golemtrust/backup-status/*" {
  capabilities = ["read", "list"]
}

# KV version detection, as the vault CLI does it.
path "sys/internal/ui/mounts/kv/*" {
  capabilities = ["read"]
}
