#!/usr/bin/env bash
# benches/compare.sh on issue 13's shapes and the many-shards one, one after the other:
#
#   bench      the 10 M-value sensor directory (5 shards, 500 series)
#   telegraf   Telegraf-shaped: 2 hosts, 7 day-shards + a second retention policy,
#              counters, a churning high-cardinality measurement, a WAL tail
#   card250k   one shard with 250,000 series (4 fields, 3 points each)
#   card1m     one shard with 1,000,000 series
#   manyshards 1,500 one-hour shards (8 hosts, cpu/mem/disk every 5 min, 1.6 M values):
#              what each shard costs (opening, planning, one output file per shard)
#
#   benches/compare-shapes.sh [SHAPE...]     (default: all five)
#
# Each directory is made with ../shared/realdata's scripts (a real influxd writes it) under
# SHAPES_DIR (default target/bench-shapes) if absent; the big ones take tens of minutes.
# Results: SHAPES_DIR/<shape>/compare/compare-summary.txt, each with its shape's issue-13
# targets marked met or MISSED; at the end all summaries, and the 1 M shard's peak memory
# against the 250 k one's. Environment as for compare.sh (RUNS, INFLUX_INSPECT_LPONLY,
# PYTHON, REALDATA).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHAPES_DIR=${SHAPES_DIR:-$ROOT/target/bench-shapes}
REALDATA=${REALDATA:-$ROOT/../shared/realdata}
SHAPES=("$@")
[ ${#SHAPES[@]} -gt 0 ] || SHAPES=(bench telegraf card250k card1m manyshards)
mkdir -p "$SHAPES_DIR"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

make_shape() {
  local shape=$1 dir=$SHAPES_DIR/$1
  case "$shape" in
    bench) ;;  # compare.sh makes it
    telegraf)
      [ -d "$dir/tg/influxdb/data" ] || "$REALDATA/make_telegraf_dir.sh" --hosts 2 --days 7 \
        --seed 1 --out "$dir/tg" ;;
    card250k)
      [ -d "$dir/card/influxdb/data" ] || "$REALDATA/make_cardinality_dir.sh" --series 250000 \
        --points 3 --out "$dir/card" ;;
    card1m)
      [ -d "$dir/card/influxdb/data" ] || "$REALDATA/make_cardinality_dir.sh" --series 1000000 \
        --points 3 --out "$dir/card" ;;
    manyshards)
      [ -d "$dir/ms/influxdb/data" ] || "$REALDATA/make_manyshards_dir.sh" --hours 1500 \
        --hosts 8 --out "$dir/ms" ;;
    *) echo "unknown shape $shape (bench, telegraf, card250k, card1m, manyshards)" >&2; exit 64 ;;
  esac
}

influxdb_dir() {
  case "$1" in
    bench) echo "$SHAPES_DIR/bench/bench/influxdb" ;;
    telegraf) echo "$SHAPES_DIR/telegraf/tg/influxdb" ;;
    manyshards) echo "$SHAPES_DIR/manyshards/ms/influxdb" ;;
    *) echo "$SHAPES_DIR/$1/card/influxdb" ;;
  esac
}

# One influx_inspect for every shape.
if [ -z "${INFLUX_INSPECT_LPONLY:-}" ]; then
  export INFLUX_INSPECT_LPONLY=$SHAPES_DIR/ii/bin/influx_inspect_lponly
  [ -x "$INFLUX_INSPECT_LPONLY" ] || bash "$REALDATA/build_influx_inspect.sh" "$SHAPES_DIR/ii"
fi

for shape in "${SHAPES[@]}"; do
  log "== $shape"
  make_shape "$shape"
  SHAPE=$shape INFLUXDB_DIR=$(influxdb_dir "$shape") "$ROOT/benches/compare.sh" "$SHAPES_DIR/$shape"
done
for shape in "${SHAPES[@]}"; do
  echo "== $shape ($(influxdb_dir "$shape"))"
  cat "$SHAPES_DIR/$shape/compare/compare-summary.txt"
  echo
done
# Issue 13: the 1 M-series shard's peak within 1.5x of the 250 k one's (this run's or an
# earlier run's summary).
peak() { sed -n 's/^peak RssAnon, parquet export: *\([0-9.]*\) MiB.*/\1/p' "$SHAPES_DIR/$1/compare/compare-summary.txt" 2>/dev/null || true; }
p250=$(peak card250k) p1m=$(peak card1m)
if [ -n "$p250" ] && [ -n "$p1m" ]; then
  awk -v a="$p1m" -v b="$p250" 'BEGIN { r = a / b; printf "peak RssAnon, 1 M series / 250 k series: %.2fx (%s / %s MiB; target <= 1.5x: %s)\n", r, a, b, (r <= 1.5 ? "met" : "MISSED") }'
fi
