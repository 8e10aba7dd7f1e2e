#!/usr/bin/env bash
# Installs what the tests need that Go does not build: Debian's real
# Prometheus, Alertmanager, restic, logrotate and Chromium. Only what is
# missing is installed; nothing is downloaded outside the package manager.
set -euo pipefail

declare -A need=(
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [amtool]=prometheus-alertmanager
  [restic]=restic
  [logrotate]=logrotate
  [chromium]=chromium
  [systemd-analyze]=systemd
  [curl]=curl # curl and jq: the runbook replay of tools/bench
  [jq]=jq
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${need[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
echo "install-deps: installing $pkgs"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to apt-get install $pkgs" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $pkgs
