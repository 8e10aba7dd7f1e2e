#!/bin/bash
# Makes the README's two pictures, from the real thing:
#   status-page.png    Debian's Chromium (headless --screenshot) against a
#                      real `backupwatch serve` on a local store holding a
#                      small, realistic fleet;
#   slack-message.png  the shipped template's Slack text for two failed
#                      hosts (amtool template render), shown as Slack lays
#                      out an Alertmanager message, in a small HTML page.
# Run from the repository root after `make build`: docs/images/screenshots.sh
set -euo pipefail

bw=${BACKUPWATCH:-bin/backupwatch}
amtool=${AMTOOL:-amtool}
out=docs/images
work=$(mktemp -d)
# The page names its store: a short path reads better than mktemp's.
store=/tmp/backupwatch-demo/records
rm -rf "$store"
trap 'kill "$serve_pid" 2>/dev/null || true; rm -rf "$work" /tmp/backupwatch-demo' EXIT
serve_pid=
ago() { date -u -d "-$1" +%Y-%m-%dT%H:%M:%SZ; }
rec() { "$bw" --store.dir="$store" --log.level=warn record "$@"; }

for h in auth-1 auth-2 vault-1 vault-2 web-1 web-3 mail-1 git; do
  rec --host "$h" --status success --at "$(ago 5hours)" --duration 4m12s
done
rec --host web-2 --status success --at "$(ago 31hours)" --duration 3m40s
rec --host ci-1 --status success --at "$(ago 52hours)"
rec --host db-2 --status success --at "$(ago 26hours)"
rec --host db-2 --status failed --at "$(ago 2hours)" --exit-code 11 \
  --message "Fatal: unable to create lock in backend: repository is already locked by PID 2211 on db-2"
rec --host db-1 --job files --every 1h --grace 10m --status success --at "$(ago 20minutes)"
rec --host db-1 --job pg_dump --cron "0 3 * * *" --cron.tz Europe/Berlin --status success --at "$(ago 9hours)"
rec --host db-1 --job image --every 7d --grace 6h --status success --at "$(ago 3days)"
rec --host graylog-1 --every 12h --grace 1h --status success --at "$(ago 4hours)"
"$bw" --store.dir="$store" --log.level=warn restore-test record --result passed --host-tested db-1 \
  --time-to-restore 47m --at "$(ago 20days)" --notes "database restored to staging" >/dev/null

cat > "$work/config.yml" <<'EOF'
title: Golem Trust backups
hosts: [auth-1, auth-2, vault-1, vault-2, web-1, web-2, web-3, mail-1, git, ci-1, db-1, db-2, graylog-1, files-1]
EOF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bw" --store.dir="$store" serve --config.file="$work/config.yml" \
  --web.listen-address="127.0.0.1:$port" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break
  sleep 0.1
done

shot() { # shot URL FILE WIDTH HEIGHT
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/chromium" --window-size="$3,$4" \
    --screenshot="$2" "$1" >/dev/null 2>&1
}
shot "http://127.0.0.1:$port/" "$out/status-page.png" 1000 1040

# The Slack message: the shipped template rendered for what Alertmanager
# sends when two hosts fail, then laid out as Slack shows an attachment.
cat > "$work/data.json" <<EOF
{"receiver":"backup-slack","status":"firing","externalURL":"http://alertmanager:9093",
 "groupLabels":{"alertname":"BackupFailed"},"commonLabels":{"alertname":"BackupFailed","severity":"critical"},
 "commonAnnotations":{},
 "alerts":[
  {"status":"firing","labels":{"alertname":"BackupFailed","host":"db-2","severity":"critical"},
   "annotations":{"summary":"Backup failed for db-2","runbook_url":"https://github.com/golemtrust/backupwatch/blob/main/docs/alerts.md#backupfailed",
    "description":"The most recent backup attempt for db-2 failed with exit code 11: \"Fatal: unable to create lock in backend: repository is already locked by PID 2211 on db-2\". Check /var/log/restic-backup.log on the affected host."},
   "startsAt":"2026-12-06T07:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"1"},
  {"status":"firing","labels":{"alertname":"BackupFailed","host":"web-4","severity":"critical"},
   "annotations":{"summary":"Backup failed for web-4","runbook_url":"https://github.com/golemtrust/backupwatch/blob/main/docs/alerts.md#backupfailed",
    "description":"The most recent backup attempt for web-4 failed with exit code 1: \"Fatal: wrong password or no key found\". Check /var/log/restic-backup.log on the affected host."},
   "startsAt":"2026-12-06T07:01:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"2"}]}
EOF
render() {
  "$amtool" template render --template.glob=deploy/alertmanager/backupwatch.tmpl \
    --template.data="$work/data.json" --template.text="{{ template \"$1\" . }}"
}
title=$(render backupwatch.slack.title)
text=$(render backupwatch.slack.text)
# Slack's mrkdwn, as it displays it: *bold*, <url|label> links, line breaks.
python3 - "$title" "$text" > "$work/slack.html" <<'EOF'
import html, re, sys
title, text = sys.argv[1], sys.argv[2]
def mrkdwn(s):  # the text is already &-escaped by the template, as Slack wants
    s = re.sub(r'<(https?://[^|>]+)\|([^>]+)>', r'<a href="\1">\2</a>', s)
    s = re.sub(r'\*([^*\n]+)\*', r'<b>\1</b>', s)
    return s.replace('\n', '<br>')
print(f'''<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body {{ font: 15px/1.45 "DejaVu Sans", Arial, sans-serif; margin: 0; padding: 18px; background: #fff; color: #1d1c1d; }}
.msg {{ display: flex; gap: 10px; }}
.avatar {{ width: 36px; height: 36px; border-radius: 6px; background: #e6522c; color: #fff; font-weight: bold;
  display: flex; align-items: center; justify-content: center; }}
.name {{ font-weight: bold; }} .app {{ font-size: 11px; background: #ddd; padding: 1px 4px; border-radius: 3px; color: #555; }}
.time {{ color: #616061; font-size: 12px; margin-left: 4px; }}
.att {{ border-left: 4px solid #d00000; padding: 2px 0 2px 12px; margin-top: 4px; max-width: 760px; }}
.title {{ font-weight: bold; color: #1264a3; }} a {{ color: #1264a3; text-decoration: none; }}
</style></head><body><div class="msg"><div class="avatar">A</div><div>
<div><span class="name">Alertmanager</span> <span class="app">APP</span><span class="time">07:02</span></div>
<div class="att"><div class="title">{title}</div><div>{mrkdwn(text)}</div></div>
</div></div></body></html>''')
EOF
shot "file://$work/slack.html" "$out/slack-message.png" 860 230
ls -l "$out"/*.png
