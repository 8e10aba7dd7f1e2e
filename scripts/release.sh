#!/bin/sh
# release.sh VERSION OUT TARGETS...: the release artifacts of VERSION into
# OUT: an archive per target (zip for Windows, tar.gz otherwise) holding
# the binary, README.md and CHANGELOG.md; a CycloneDX SBOM of each target
# (<archive name>.sbom.cdx.json: the modules and Go version the binary is
# built from, by tools/sbom's cyclonedx-gomod); the .deb and .rpm of each
# linux target (tools/deb, nfpm); SHA256SUMS over them all. Reproducible: -trimpath, no build
# id, the build date and every file time the commit's, archives sorted and
# owned by 0, gzip without a name or time. `make release VERSION=x.y.z`.
set -eu
version=$1 out=$2
shift 2
[ -n "$version" ] || { echo "release: VERSION=x.y.z is required" >&2; exit 2; }
go=${GO:-go}
epoch=$(git log -1 --format=%ct)
revision=$(git rev-parse HEAD)
date=$(git log -1 --format=%cd --date=format:%Y%m%d)
builddate=$(date -u -d "@$epoch" +%Y%m%d-%H:%M:%S)
vpkg=github.com/prometheus/common/version
ldflags="-s -w -buildid= -X $vpkg.Version=$version -X $vpkg.Revision=$revision -X $vpkg.Branch=release -X $vpkg.BuildDate=$builddate -X $vpkg.BuildUser=release"
rm -rf "$out"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# The SBOM generator, built for this machine, pinned by tools/sbom's go.mod.
(cd tools/sbom && GOWORK=off $go build -trimpath -o "$stage/cyclonedx-gomod" github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod)
# It names the main module's version by the git tag at HEAD, and cannot
# open a git worktree: it reads the commit's tree (git archive: what is
# committed, as a release should be) as a repository of its own, tagged
# v$version, dated the commit's time.
src=$stage/src
mkdir -p "$src"
git archive HEAD | tar -x -C "$src"
(cd "$src" && git init -q && git add -A &&
    GIT_AUTHOR_DATE="@$epoch" GIT_COMMITTER_DATE="@$epoch" git -c user.name=release -c user.email=release@invalid \
        commit -q -m "backupwatch $version" && git tag "v$version")
for t in "$@"; do
    os=${t%/*} arch=${t#*/}
    name=backupwatch-$version.$os-$arch
    dir=$stage/$name
    mkdir -p "$dir"
    exe=backupwatch
    [ "$os" = windows ] && exe=backupwatch.exe
    echo "release: $t"
    GOOS=$os GOARCH=$arch CGO_ENABLED=0 $go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./cmd/backupwatch
    cp README.md CHANGELOG.md "$dir/"
    find "$dir" -exec touch -h -d "@$epoch" {} +
    if [ "$os" = windows ]; then
        (cd "$stage" && find "$name" | LC_ALL=C sort | TZ=UTC zip -X -q -@ "$OLDPWD/$out/$name.zip")
    else
        tar -C "$stage" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner -cf - "$name" | gzip -n -9 > "$out/$name.tar.gz"
    fi
    # Per target: the modules differ (golang.org/x/sys/windows...). Its
    # warnings (no license found: the project has none yet) are kept
    # unless it fails.
    (cd "$src" && GOOS=$os GOARCH=$arch CGO_ENABLED=0 "$stage/cyclonedx-gomod" app -json -disable-html-escape -licenses -std \
        -noserial -notimestamp -main cmd/backupwatch -output "$OLDPWD/$out/$name.sbom.cdx.json" . 2>"$stage/sbom.log") ||
        { cat "$stage/sbom.log" >&2; echo "release: the SBOM of $t failed" >&2; exit 1; }
    if [ "$os" = linux ]; then
        for format in deb rpm; do
            (cd tools/deb && GOWORK=off $go run -mod=readonly . -root "$OLDPWD" -binary "$dir/$exe" \
                -version "$version" -date "$date" -arch "$arch" -strip=false -format $format -out "$OLDPWD/$out") >/dev/null
        done
    fi
done
(cd "$out" && sha256sum -- * > SHA256SUMS)
echo "release: $out"
