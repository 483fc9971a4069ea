#!/usr/bin/env bash
# Two builds of influx-tsm, side by side on the same directories: did a change make the
# export slower or bigger in memory? (compare.sh times us against influx_inspect; this
# times us against ourselves.)
#
#   benches/ab.sh OLD_BIN NEW_BIN NAME=INFLUXDB_DIR [NAME=INFLUXDB_DIR ...]
#
# For each directory: a Parquet export and a line-protocol export (files), each run
# RUNS times (default 3) with OLD and NEW alternating, so that a noisy neighbour hits both
# alike. Prints, per directory and format, the median wall seconds and the largest peak
# RSS (GNU time's %M, KiB) of each build and NEW/OLD. The output folders are removed
# after each run; `sync` before each run so no run pays another's writeback.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 OLD_BIN NEW_BIN NAME=INFLUXDB_DIR..." >&2; exit 2; }
old=$(realpath "$1"); new=$(realpath "$2"); shift 2
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v /usr/bin/time >/dev/null || { echo "ab.sh: needs GNU time (/usr/bin/time)" >&2; exit 1; }

# One timed export: appends "wall rss" to $work/<label>.
run() {
  local label=$1 bin=$2 dir=$3 format=$4 out=$work/out
  rm -rf "$out"
  sync
  local args=(export "$dir" --quiet --out "$out")
  [ "$format" = lp ] && args+=(--format lp)
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" "${args[@]}" >/dev/null
  cat "$work/time" >>"$work/$label"
  rm -rf "$out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maxof() { sort -n | tail -1; }

printf '%-12s %-7s %9s %9s %7s %11s %11s %7s\n' shape format old_s new_s new/old old_rssKiB new_rssKiB new/old
for spec in "$@"; do
  name=${spec%%=*} dir=${spec#*=}
  [ -d "$dir/data" ] || { echo "ab.sh: $dir has no data folder" >&2; exit 1; }
  for format in parquet lp; do
    rm -f "$work/old" "$work/new"
    for _ in $(seq "$RUNS"); do
      run old "$old" "$dir" "$format"
      run new "$new" "$dir" "$format"
    done
    ow=$(cut -d' ' -f1 "$work/old" | median) nw=$(cut -d' ' -f1 "$work/new" | median)
    orss=$(cut -d' ' -f2 "$work/old" | maxof) nrss=$(cut -d' ' -f2 "$work/new" | maxof)
    awk -v n="$name" -v f="$format" -v ow="$ow" -v nw="$nw" -v o="$orss" -v r="$nrss" \
      'BEGIN { printf "%-12s %-7s %9.2f %9.2f %7.2f %11d %11d %7.2f\n", n, f, ow, nw, nw / ow, o, r, r / o }'
  done
done
