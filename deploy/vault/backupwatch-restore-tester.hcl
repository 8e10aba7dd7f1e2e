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

path "sys/internal/ui/mounts/kv/*" {
  capabilities = ["read"]
}
