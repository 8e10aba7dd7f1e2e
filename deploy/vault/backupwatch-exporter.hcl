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

# The records of checks made from outside the hosts (--vault.checks-prefix):
# repo-check's (repository/<name>) and the restore tests per host
# (restore-test/<host>); only those two folders, so that nothing else kept
# under the checks prefix is readable here.
path "kv/data/golemtrust/backup-checks/repository/*" {
  capabilities = ["read"]
}
path "kv/data/golemtrust/backup-checks/restore-test/*" {
  capabilities = ["read"]
}
path "kv/metadata/golemtrust/backup-checks/*" {
  capabilities = ["list"]
}
path "kv/golemtrust/backup-checks/repository/*" {
  capabilities = ["read", "list"]
}
path "kv/golemtrust/backup-checks/restore-test/*" {
  capabilities = ["read", "list"]
}
path "kv/golemtrust/backup-checks/repository" {
  capabilities = ["list"]
}
path "kv/golemtrust/backup-checks/restore-test" {
  capabilities = ["list"]
}

# KV version detection, as the vault CLI does it.
path "sys/internal/ui/mounts/kv/*" {
  capabilities = ["read"]
}
