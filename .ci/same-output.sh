#!/usr/bin/env bash
# Is every file two builds write the same, byte for byte? For a change that must not
# change behaviour (a restructuring, a rename, a dependency swap): build the old binary
# (say from `git worktree add /tmp/old HEAD~1`), then
#
#   bash .ci/same-output.sh OLD_BIN NEW_BIN [INPUT_DIR ...]
#
# For every input (default: every fixture's InfluxDB folder and backups), both binaries
# write Parquet (grouped and --file-per-shard, with each --type-conflicts policy), line
# protocol (plain, gzip, --with-ddl, stdout), `inspect --json`, `verify --json` of the
# input and of the export; then `diff -r` compares the two trees. Exit 1 on any
# difference. The bench directory (benches/compare-shapes.sh makes it) can be added as
# an input.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 OLD_BIN NEW_BIN [INPUT_DIR ...]" >&2; exit 2; }
old=$(realpath "$1"); new=$(realpath "$2"); shift 2
inputs=("$@")
if [ ${#inputs[@]} -eq 0 ]; then
    for fixture in fixtures/*/; do
        for sub in influxdb backup-portable backup-legacy; do
            [ -d "$fixture$sub" ] && inputs+=("$fixture$sub")
        done
    done
fi
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

# Runs one binary over every input into $1; an exit code is kept as a file, so that a
# command failing the same way in both builds compares equal and a different failure not.
run_all() {
    local bin=$1 out=$2 i=0
    for input in "${inputs[@]}"; do
        i=$((i + 1))
        local dir=$out/$i
        mkdir -p "$dir"
        echo "$input" > "$dir/input"
        step() { # name, command...
            local name=$1; shift
            set +e
            "$@" > "$dir/$name.stdout" 2> /dev/null
            echo $? > "$dir/$name.rc"
            set -e
        }
        step parquet "$bin" export "$input" --out "$dir/parquet" -j 2
        step parquet-per-shard "$bin" export "$input" --out "$dir/parquet-per-shard" --file-per-shard -j 1
        step parquet-float "$bin" export "$input" --out "$dir/parquet-float" --type-conflicts float
        step parquet-string "$bin" export "$input" --out "$dir/parquet-string" --type-conflicts string \
            --compression snappy --row-group-size 1000
        step lp "$bin" export "$input" --out "$dir/lp" --format lp
        step lp-gzip "$bin" export "$input" --out "$dir/lp-gzip" --format lp --compress gzip --with-ddl
        step lp-stdout "$bin" export "$input" --out - --format lp
        step inspect "$bin" inspect "$input" --json
        step verify "$bin" verify "$input" --json
        step verify-out "$bin" verify "$dir/parquet" --json
        # The report (--json) names its own output folder and times itself: not compared.
        rm -f "$dir"/parquet*/report.json "$dir"/lp*/report.json
    done
}
run_all "$old" "$work/old" &
run_all "$new" "$work/new" &
wait
# The outputs name their own folder ($work/old/... or $work/new/...) in verify's report.
find "$work/old" "$work/new" -name '*.stdout' -exec sed -i "s|$work/old|OUT|g; s|$work/new|OUT|g" {} +
if diff -r "$work/old" "$work/new" > "$work/diff.txt"; then
    echo "same-output: ${#inputs[@]} inputs, $(find "$work/new" -type f | wc -l) files each, byte-identical"
else
    head -50 "$work/diff.txt"
    echo "same-output: DIFFERENT (above)" >&2
    exit 1
fi
