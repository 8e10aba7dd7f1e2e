# backupwatch-operator: for the people on call (a token from their own
# login, `vault token create -policy=backupwatch-operator`). They may pause
# and resume any host or job (`backupwatch pause`, `resume`) and read what
# is there (`backupwatch status`), but write no backup record: a pause
# holds alerts back until it ends, a record would claim a backup.

# Every pause: pauses/<host> and pauses/<host>@<job>.
path "kv/data/golemtrust/backup-status/pauses/*" {
  capabilities = ["create", "read", "update", "patch"]
}
path "kv/golemtrust/backup-status/pauses/*" {
  capabilities = ["create", "read", "update"]
}

# Read and list the records, as the exporter does (status).
path "kv/data/golemtrust/backup-status/*" {
  capabilities = ["read"]
}
path "kv/metadata/golemtrust/backup-status/*" {
  capabilities = ["list"]
}
path "kv/metadata/golemtrust/backup-status" {
  capabilities = ["list"]
}
path "kv/golemtrust/backup-status/*" {
  capabilities = ["read", "list"]
}
path "kv/golemtrust/backup-status" {
  capabilities = ["list"]
}

path "sys/internal/ui/mounts/kv/*" {
  capabilities = ["read"]
}
