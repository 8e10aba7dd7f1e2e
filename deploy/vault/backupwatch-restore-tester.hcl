# backupwatch-restore-tester: for the role that runs `backupwatch restore-test
# run` (or `restore-test record`): writes the restore test record only.

path "kv/data/golemtrust/backup-status/restore-test" {
  capabilities = ["create", "read", "update", "patch"]
}

path "kv/golemtrust/backup-status/restore-test" {
  capabilities = ["create", "read", "update"]
}

# Restore tests recorded with --job: jobs/restore-test@<job>.
path "kv/data/golemtrust/backup-status/jobs/restore-test@*" {
  capabilities = ["create", "read", "update", "patch"]
}

path "kv/golemtrust/backup-status/jobs/restore-test@*" {
  capabilities = ["create", "read", "update"]
}

# The restore test of each tested host (--host-tested), beside the hosts'
# records under the checks prefix: restore-test/<host>. Listed and read
# too, for `restore-test run --pick oldest`.
path "kv/data/golemtrust/backup-checks/restore-test/*" {
  capabilities = ["create", "read", "update", "patch"]
}
path "kv/metadata/golemtrust/backup-checks/restore-test" {
  capabilities = ["list"]
}
path "kv/metadata/golemtrust/backup-checks/restore-test/*" {
  capabilities = ["list"]
}
path "kv/golemtrust/backup-checks/restore-test/*" {
  capabilities = ["create", "read", "update", "list"]
}
path "kv/golemtrust/backup-checks/restore-test" {
  capabilities = ["list"]
}

path "sys/internal/ui/mounts/kv/*" {
  capabilities = ["read"]
}
