#!/bin/sh
# release.sh VERSION OUT TARGETS...: the release artifacts of VERSION into
# OUT: an archive per target (zip for Windows, tar.gz otherwise) holding
# the binary, README.md and CHANGELOG.md; the .deb and .rpm of each linux
# target (tools/deb, nfpm); SHA256SUMS over them all. Reproducible: -trimpath, no build
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
    if [ "$os" = linux ]; then
        for format in deb rpm; do
            (cd tools/deb && GOWORK=off $go run -mod=readonly . -root "$OLDPWD" -binary "$dir/$exe" \
                -version "$version" -date "$date" -arch "$arch" -strip=false -format $format -out "$OLDPWD/$out") >/dev/null
        done
    fi
done
(cd "$out" && sha256sum -- * > SHA256SUMS)
echo "release: $out"
