#!/usr/bin/env bash
# Builds the current Alertmanager and amtool (the release go.mod pins) into
# the directory given ($1, e.g. tools/bin). Alertmanager 0.32+ embeds its
# web UI from ui/app/dist, which is built with npm and so not in the Go
# module: `go install ...@v0.35.0` fails ("pattern app/dist: no matching
# files"). Here the module is vendored into a scratch directory, a one-page
# placeholder stands in for the UI, and both are built from the vendored
# source: the API, routing, templates and notifications are the release's
# own; only the browser UI is missing.
set -euo pipefail
out=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/go.mod" "$here/go.sum" "$work/"
cd "$work"
export GOWORK=off GOFLAGS=-mod=vendor CGO_ENABLED=0
# -e: the UI's embed cannot be resolved until the placeholder below is
# there; that one expected complaint is not shown.
# (GOMAXPROCS=16: modules are fetched that many at a time, not one per core.)
GOMAXPROCS=16 go mod vendor -e 2> >(grep -v 'ui: pattern app/dist: no matching files found' >&2)
ui=vendor/github.com/prometheus/alertmanager/ui/app/dist
mkdir -p "$ui/elm" "$ui/mantine"
for d in elm mantine; do
  printf '<!doctype html><title>Alertmanager</title><p>The web UI is not part of this build (tools/alertmanager); the API is.</p>\n' >"$ui/$d/index.html"
done
version=$(go list -m -f '{{.Version}}' github.com/prometheus/alertmanager)
go build -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=${version#v}" -o "$out/" \
  github.com/prometheus/alertmanager/cmd/alertmanager github.com/prometheus/alertmanager/cmd/amtool
