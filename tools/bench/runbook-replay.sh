#!/bin/bash
# runbook-replay.sh: the runbook's /opt/backup/backup-metrics.sh, replayed
# with curl and jq in place of the vault CLI, for `make bench` to time.
#
# Per host it does what the runbook does: one request for status and one
# for last_success, each piped to its own jq (`vault kv get -field=...`),
# one `date -d`, and one echo per metric; the AppRole login comes first and
# the restore-test lines last. curl and jq are cheaper to start than the
# vault CLI, so this replay flatters the runbook's script.
#
# The hosts are the arguments (the runbook lists them in the for loop).
# Environment: VAULT_ADDR, ROLE_ID_FILE, SECRET_ID_FILE, METRICS_FILE.
# No secret reaches a command line: the login body goes through stdin and
# the token header through a private file.
set -euo pipefail

: "${VAULT_ADDR:?}" "${ROLE_ID_FILE:?}" "${SECRET_ID_FILE:?}" "${METRICS_FILE:?}"
KV="${VAULT_ADDR}/v1/kv/data/golemtrust/backup-status"

HEADER=$(mktemp)
trap 'rm -f "$HEADER"' EXIT

# vault write -field=token auth/approle/login role_id=... secret_id=...
export VAULT_TOKEN=$(jq -n --rawfile r "$ROLE_ID_FILE" --rawfile s "$SECRET_ID_FILE" \
	'{role_id: ($r | rtrimstr("\n")), secret_id: ($s | rtrimstr("\n"))}' |
	curl -sSf -X POST --data @- "${VAULT_ADDR}/v1/auth/approle/login" |
	jq -er .auth.client_token)
printf 'X-Vault-Token: %s\n' "$VAULT_TOKEN" >"$HEADER"

TIMESTAMP=$(date +%s)
for HOST in "$@"; do
	STATUS=$(curl -sf -H @"$HEADER" "${KV}/${HOST}" 2>/dev/null | jq -er .data.data.status 2>/dev/null || echo "unknown")
	LAST_SUCCESS=$(curl -sf -H @"$HEADER" "${KV}/${HOST}" 2>/dev/null | jq -er .data.data.last_success 2>/dev/null || echo "1970-01-01T00:00:00+00:00")
	LAST_SUCCESS_TS=$(date -d "$LAST_SUCCESS" +%s 2>/dev/null || echo "0")
	AGE_SECONDS=$((TIMESTAMP - LAST_SUCCESS_TS))
	echo "backup_last_success_age_seconds{host=\"${HOST}\"} ${AGE_SECONDS}"
	echo "backup_status{host=\"${HOST}\",status=\"${STATUS}\"} 1"
done >"$METRICS_FILE"

# The runbook's "Add to /opt/backup/backup-metrics.sh" for the restore test.
RESTORE_TEST=$(curl -sf -H @"$HEADER" "${KV}/restore-test" 2>/dev/null | jq -er .data.data.last_test 2>/dev/null || echo "1970-01-01T00:00:00+00:00")
RESTORE_TEST_TS=$(date -d "$RESTORE_TEST" +%s 2>/dev/null || echo "0")
RESTORE_AGE=$((TIMESTAMP - RESTORE_TEST_TS))
echo "backup_restore_test_age_seconds ${RESTORE_AGE}" >>"$METRICS_FILE"
