# backupwatch-repo-checker: for the one machine that runs `backupwatch
# repo-check` (deploy/systemd/backupwatch-repo-check.timer). It reads the
# repository password and writes only the repository check records, under
# the checks prefix (--vault.checks-prefix), never a host's record, a job's
# or the restore test's.

# Its own records: kv/golemtrust/backup-checks/repository/<name>.
# KV v2: read (for check-and-set), create and update.
path "kv/data/golemtrust/backup-checks/repository/*" {
  capabilities = ["create", "read", "update", "patch"]
}
# KV v1
path "kv/golemtrust/backup-checks/repository/*" {
  capabilities = ["create", "read", "update"]
}

# The repository password, for Vault Agent to render into the file given
# as --password-file (field "password" of kv/golemtrust/restic/<name>).
path "kv/data/golemtrust/restic/*" {
  capabilities = ["read"]
}
path "kv/golemtrust/restic/*" {
  capabilities = ["read"]
}

path "sys/internal/ui/mounts/kv/*" {
  capabilities = ["read"]
}
