#!/usr/bin/env bash
# Installs what the tests need, in two generations:
#  - Debian's packages (what Debian stable users run): Prometheus,
#    Alertmanager, node_exporter, restic, logrotate, Chromium,
#    systemd-analyze, dpkg, Icinga 2;
#  - current upstream releases, built from their Go modules into tools/bin/
#    (git-ignored): promtool and prometheus 3.x, alertmanager and amtool,
#    node_exporter, restic. Each is pinned below; a stamp per version
#    (tools/bin/.stamp/<name>@<version>, holding the build's times) means a
#    bump rebuilds and an unchanged one is not built again.
# Only what is missing is installed or built.
#   DEPS_SKIP_APT=1  skip the Debian part; DEPS_SKIP_GO=1 skip the Go part;
#   DEPS_SKIP_NODE=1 skip the node packages of the page's accessibility test;
#   DEPS_GO_ONLY="name ..." build only those of the current generation.
set -euo pipefail
cd "$(dirname "$0")/.."

# The current generation: name, Go package (or ./tools/X, a module of ours
# whose build.sh builds it), version, build tags. Bump a version here, or in
# tools/X/go.mod. Prometheus is built with remove_all_sd: only static, file
# and http service discovery, which is all the tests use; the cloud SDKs of
# the other discoveries would triple its build time. Alertmanager 0.32+
# cannot be `go install`ed (its UI is built with npm and is not in the Go
# module): tools/alertmanager builds it (see its build.sh).
PROMETHEUS_VERSION=v0.316.0  # Prometheus 3.x
ALERTMANAGER_VERSION=$(awk '$1 == "github.com/prometheus/alertmanager" { print $2 }' tools/alertmanager/go.mod)
RESTIC_VERSION=v0.19.1
NODE_EXPORTER_VERSION=v1.12.1
# In the order built: what the e2e package needs first (make test starts it
# once those and Vault exist, DEPS_GO_ONLY), prometheus before promtool
# (most of promtool's packages are prometheus's, built once).
go_tools=(
  "prometheus github.com/prometheus/prometheus/cmd/prometheus $PROMETHEUS_VERSION remove_all_sd"
  "alertmanager ./tools/alertmanager $ALERTMANAGER_VERSION"
  "amtool ./tools/alertmanager $ALERTMANAGER_VERSION"
  "node_exporter github.com/prometheus/node_exporter $NODE_EXPORTER_VERSION"
  "promtool github.com/prometheus/prometheus/cmd/promtool $PROMETHEUS_VERSION remove_all_sd"
  "restic github.com/restic/restic/cmd/restic $RESTIC_VERSION"
)

apt_deps() {
  declare -A need=(
    [prometheus]=prometheus
    [promtool]=prometheus
    [prometheus-alertmanager]=prometheus-alertmanager
    [amtool]=prometheus-alertmanager
    [prometheus-node-exporter]=prometheus-node-exporter # e2e's textfile mode
    [restic]=restic
    [logrotate]=logrotate
    [chromium]=chromium
    [systemd-analyze]=systemd
    [curl]=curl # curl and jq: the runbook replay of tools/bench
    [jq]=jq
    [dpkg-deb]=dpkg # the package test (make test-deb)
    [adduser]=adduser
    [node]=nodejs # the page's accessibility test (internal/web/testdata/axe)
    [npm]=npm
    [wine]="wine wine64" # the Windows agent tests (make test-windows): wine is the launcher (/usr/bin/wine), wine64 the loader it runs
    [x86_64-w64-mingw32-ld]=binutils-mingw-w64-x86-64 # wine's missing bcryptprimitives.dll (scripts/wine)
    [lintian]=lintian # the package's check (make test-deb)
    [rpm]=rpm # rpm -qlp on the release's .rpm (make test-release)
    [icinga2]=icinga2-bin # runs docs/monitoring-plugins.md's Icinga 2 example (docs/monitoring_test.go)
  )
  local missing=() cmd
  for cmd in "${!need[@]}"; do
    # Debian's binaries, never tools/bin's of the same name.
    [ -x "/usr/bin/$cmd" ] || [ -x "/usr/sbin/$cmd" ] || [ -x "/bin/$cmd" ] || missing+=("${need[$cmd]}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local pkgs sudo=""
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "install-deps: installing $pkgs"
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to apt-get install $pkgs" >&2; exit 1; }
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  # shellcheck disable=SC2086
  $sudo apt-get install -y -q --no-install-recommends $pkgs
}

# go_build PKG VERSION TAGS BIN builds one tool (or a module's tools) into
# BIN, its errors on fd 3.
go_build() {
  if [[ $1 == ./* ]]; then
    "$1/build.sh" "$4" 2>&3
    return
  fi
  # --version says the release: Prometheus 3.16.0 is module version v0.316.0.
  local release=${2#v}
  if [[ $1 == github.com/prometheus/prometheus/* && $release =~ ^0\.3([0-9][0-9])\.([0-9]+)$ ]]; then
    release=3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}
  fi
  # Outside any workspace or the main module: the tool's own go.mod and
  # go.sum decide, checked against the checksum database. GOMAXPROCS=16:
  # the go command fetches modules that many at a time (by default one per
  # core, mostly waiting on the network); -p keeps the build at one
  # compile per core.
  (cd / && GOWORK=off GOMAXPROCS=16 GOBIN=$4 CGO_ENABLED=0 go install -p "$(nproc)" -trimpath -tags "$3" \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$release" "$1@$2") 2>&3
}

go_deps() {
  local bin=$PWD/tools/bin stamps=$PWD/tools/bin/.stamp line other name pkg version tags stamp n p v t
  mkdir -p "$stamps"
  for line in "${go_tools[@]}"; do
    tags=""
    read -r name pkg version tags <<<"$line"
    if [ -n "${DEPS_GO_ONLY:-}" ] && [[ " $DEPS_GO_ONLY " != *" $name "* ]]; then
      continue
    fi
    stamp=$name@$version${tags:++$tags}
    if [ -x "$bin/$name" ] && [ -e "$stamps/$stamp" ]; then
      continue
    fi
    echo "install-deps: building $name $version ($pkg)"
    rm -f "$stamps/$name@"*
    TIMEFORMAT="real %Rs user %Us sys %Ss"
    { time go_build "$pkg" "$version" "$tags" "$bin"; } 3>&2 2>"$stamps/.time"
    # A module of ours builds all of its tools at once: stamp each.
    for other in "${go_tools[@]}"; do
      t=""
      read -r n p v t <<<"$other"
      if [ "$p" = "$pkg" ] && [ "$n" != "$name" ]; then
        rm -f "$stamps/$n@"*
        echo "built with $name" >"$stamps/$n@$v${t:++$t}"
      fi
    done
    mv "$stamps/.time" "$stamps/$stamp"
    echo "install-deps: built tools/bin/$name $version: $(cat "$stamps/$stamp")"
  done
}

# node_deps installs the page's accessibility test's node packages
# (axe-core, puppeteer-core), pinned in its package-lock.json, when missing
# or older than the lock file.
node_deps() {
  local dir=internal/web/testdata/axe
  if [ -e "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    return 0
  fi
  echo "install-deps: npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund)
}

[ -n "${DEPS_SKIP_APT:-}" ] || apt_deps
[ -n "${DEPS_SKIP_GO:-}" ] || go_deps
[ -n "${DEPS_SKIP_NODE:-}" ] || node_deps
