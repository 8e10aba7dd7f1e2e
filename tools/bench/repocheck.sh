#!/bin/sh
# repocheck.sh: how long `backupwatch repo-check` takes on a local restic
# repository with N snapshots (default 1000), listing only and with a data
# check of 1/30. Usage: tools/bench/repocheck.sh [N] [restic]
# Builds backupwatch; everything lives in a temporary directory.
set -eu
n=${1:-1000}
restic=${2:-restic}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/backupwatch" ./cmd/backupwatch
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$dir/repo"
"$restic" init -q
mkdir "$dir/src"
i=0
while [ "$i" -lt "$n" ]; do
	echo "$i" > "$dir/src/f"
	# host-<i mod 50>: 50 hosts of 20 snapshots each.
	"$restic" backup -q --no-cache --host "host-$((i % 50))" "$dir/src" >/dev/null
	i=$((i + 1))
done
for args in "" "--read-data-subsets=30"; do
	start=$(date +%s.%N)
	"$dir/backupwatch" --store.dir="$dir/records" --log.level=warn repo-check --name=bench --restic.binary="$restic" $args
	end=$(date +%s.%N)
	echo "repo-check $args: $n snapshots: $(echo "$end - $start" | bc) s"
done
start=$(date +%s.%N)
"$restic" snapshots --json --no-lock --no-cache >/dev/null
end=$(date +%s.%N)
echo "restic snapshots --json alone: $(echo "$end - $start" | bc) s"
