# backupwatch-writer: lets each host write its own record and nobody else's.
# One policy for the whole fleet: the host name is the AppRole role name
# (`vault write auth/approle/role/db ...` for host db), and Vault fills it in
# at request time from the login's entity alias.
#
# Replace AUTH_APPROLE_ACCESSOR with your AppRole mount's accessor:
#   vault auth list -format=json | jq -r '."approle/".accessor'
# (`backupwatch config print vault-writer-policy` prints this file.)

# KV v2: read (for check-and-set), create and update its own key.
path "kv/data/golemtrust/backup-status/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}" {
  capabilities = ["create", "read", "update", "patch"]
}

# KV v2: its key's max_versions, set once by the first result, so that the
# record's versions keep its last 30 results (the run history).
path "kv/metadata/golemtrust/backup-status/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}" {
  capabilities = ["create", "update"]
}
# KV v1
path "kv/golemtrust/backup-status/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}" {
  capabilities = ["create", "read", "update"]
}

# Its jobs (`--job NAME`): jobs/<host>@<job>. '@' is in no host or job
# name, so db's pattern matches jobs/db@files and never another host's
# (jobs/db.example@x, jobs/db2@x).
path "kv/data/golemtrust/backup-status/jobs/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}@*" {
  capabilities = ["create", "read", "update", "patch"]
}

path "kv/metadata/golemtrust/backup-status/jobs/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}@*" {
  capabilities = ["create", "update"]
}
path "kv/golemtrust/backup-status/jobs/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}@*" {
  capabilities = ["create", "read", "update"]
}

path "sys/internal/ui/mounts/kv/*" {
  capabilities = ["read"]
}

# Its pauses (`backupwatch pause`, `resume`): pauses/<host> for the whole
# host, pauses/<host>@<job> for one job; never another host's ('@' again).
path "kv/data/golemtrust/backup-status/pauses/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}" {
  capabilities = ["create", "read", "update", "patch"]
}

path "kv/data/golemtrust/backup-status/pauses/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}@*" {
  capabilities = ["create", "read", "update", "patch"]
}

path "kv/golemtrust/backup-status/pauses/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}" {
  capabilities = ["create", "read", "update"]
}

path "kv/golemtrust/backup-status/pauses/{{identity.entity.aliases.AUTH_APPROLE_ACCESSOR.metadata.role_name}}@*" {
  capabilities = ["create", "read", "update"]
}
