#!/usr/bin/env bash
# Side-by-side timing of influx-tsm against the baseline on the 10M-value bench directory:
#
#   A  influx-tsm export (Parquet, default settings, 2 threads)
#   B  influx-tsm export (Parquet, --threads 1)
#   C  influx-tsm export --format lp
#   D  influx_inspect export -lponly                  (Go, 1.6.7 + the -lponly backport)
#   E  duckdb_lp_to_parquet.py on D's output          (the user's pipeline = D + E)
#   F  influx-tsm inspect, G influx-tsm verify         (first round only: their memory)
#
# Runs alternate (A B C D E, A B C D E, ...), RUNS rounds; medians, ratios, peak memory,
# output sizes and the number of Parquet files A wrote are printed and written to
# OUT/compare.tsv and OUT/compare-summary.txt.
#
#   benches/compare.sh [BENCH_DIR]
#
# BENCH_DIR (default $BENCH_DIR or target/bench-data) gets bench/influxdb, made with
# ../shared/realdata/make_influx_fixture.sh --shape bench --seed 7 --points 2000000
# --devices 500 --days 35 if absent (needs influxd). Environment:
#   RUNS                   rounds (default 3)
#   INFLUXDB_DIR           use this InfluxDB directory instead of BENCH_DIR/bench/influxdb
#   INFLUX_INSPECT_LPONLY  an influx_inspect with export -lponly; if unset and
#                          BENCH_DIR/ii/bin/influx_inspect_lponly is absent, it is built
#                          with ../shared/realdata/build_influx_inspect.sh (needs root)
#   PYTHON                 a python with duckdb (default: /work/tools/venv/bin/python if
#                          present, else python3); E is skipped without duckdb
#   REALDATA               the realdata scripts (default ../shared/realdata)
#   SHAPE                  whose targets the summary prints: bench (default), telegraf,
#                          card250k, card1m (issue 13's shapes), manyshards (1,500 one-hour
#                          shards, benches/compare-shapes.sh), or any other name for none
#
# Memory: peak RssAnon (anonymous resident memory: heap and stacks, NOT mapped files),
# sampled every 2 ms from /proc/PID/status by the peakmem example; also VmHWM (peak RSS
# including file-backed pages, e.g. the mapped TSM files). CPU: GNU time's user and sys.
# Before each timed run, `sync` flushes the previous run's output so that no run pays
# another's writeback. influx-tsm fsyncs its files before renaming them (crash safety);
# influx_inspect and DuckDB do not: their times do not include getting the data to disk.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${1:-${BENCH_DIR:-$ROOT/target/bench-data}}
RUNS=${RUNS:-3}
REALDATA=${REALDATA:-$ROOT/../shared/realdata}
if [ -z "${PYTHON:-}" ]; then
  if [ -x /work/tools/venv/bin/python ]; then PYTHON=/work/tools/venv/bin/python; else PYTHON=python3; fi
fi
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

INFLUXDB_DIR=${INFLUXDB_DIR:-$BENCH_DIR/bench/influxdb}
if [ ! -d "$INFLUXDB_DIR/data" ]; then
  log "building $INFLUXDB_DIR (influxd writes 2,000,071 points; a few minutes)"
  "$REALDATA/make_influx_fixture.sh" --shape bench --seed 7 --points 2000000 \
    --devices 500 --days 35 --out "$BENCH_DIR/bench"
fi
if [ -z "${INFLUX_INSPECT_LPONLY:-}" ]; then
  INFLUX_INSPECT_LPONLY=$BENCH_DIR/ii/bin/influx_inspect_lponly
  if [ ! -x "$INFLUX_INSPECT_LPONLY" ]; then
    log "building influx_inspect into $BENCH_DIR/ii"
    bash "$REALDATA/build_influx_inspect.sh" "$BENCH_DIR/ii"
  fi
fi
HAVE_DUCKDB=1
"$PYTHON" -c 'import duckdb' 2>/dev/null || { HAVE_DUCKDB=0; log "no duckdb in $PYTHON: pipeline step skipped"; }

log "building influx-tsm and the peakmem helper (release)"
(cd "$ROOT" && cargo build --release -q -p influx-tsm && \
  cargo build --release -q -p influx-tsm-benches --example peakmem)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TSM_BIN=$TARGET/release/influx-tsm
PEAKMEM=$TARGET/release/examples/peakmem

W=$BENCH_DIR/compare
rm -rf "$W"; mkdir -p "$W"
TSV=$W/compare.tsv
echo -e "step\trun\twall_s\tuser_s\tsys_s\trss_anon_kb\tvm_hwm_kb\toutput_bytes" > "$TSV"
MEM=$W/mem.tsv

# timed STEP RUN OUTPUT -- COMMAND...
timed() {
  local step=$1 run=$2 out=$3; shift 4
  sync
  : > "$MEM"
  /usr/bin/time -f '%e %U %S' -o "$W/time.txt" "$PEAKMEM" "$MEM" "$step" -- "$@" \
    > "$W/stdout.txt" 2> "$W/stderr.txt" || { cat "$W/stderr.txt" >&2; log "$step failed"; exit 1; }
  local user sys wall anon hwm bytes
  read -r _ user sys < <(tail -n1 "$W/time.txt")
  IFS=$'\t' read -r _ wall anon hwm _ < "$MEM"
  bytes=$(du -sb "$out" | cut -f1)
  echo -e "$step\t$run\t$wall\t$user\t$sys\t$anon\t$hwm\t$bytes" >> "$TSV"
  log "$step run $run: wall ${wall}s user ${user}s sys ${sys}s RssAnon ${anon}kB VmHWM ${hwm}kB out ${bytes}B"
}

for r in $(seq 1 "$RUNS"); do
  rm -rf "$W/pq2"; timed parquet_2threads "$r" "$W/pq2" -- "$TSM_BIN" export "$INFLUXDB_DIR" -o "$W/pq2" -q --threads 2
  rm -rf "$W/pq1"; timed parquet_1thread "$r" "$W/pq1" -- "$TSM_BIN" export "$INFLUXDB_DIR" -o "$W/pq1" -q --threads 1
  rm -rf "$W/lp"; timed lp_2threads "$r" "$W/lp" -- "$TSM_BIN" export "$INFLUXDB_DIR" -o "$W/lp" -q --format lp --threads 2
  rm -f "$W/inspect.lp"
  timed inspect_lponly "$r" "$W/inspect.lp" -- "$INFLUX_INSPECT_LPONLY" export -lponly \
    -datadir "$INFLUXDB_DIR/data" -waldir "$INFLUXDB_DIR/wal" -out "$W/inspect.lp"
  if [ "$r" = 1 ]; then
    # Once: the directory summary and the full check, for their memory on this shape.
    # (Their output is the step's stdout, which `timed` keeps in $W/stdout.txt.)
    timed inspect "$r" "$W/stdout.txt" -- "$TSM_BIN" inspect "$INFLUXDB_DIR"
    timed verify "$r" "$W/stdout.txt" -- "$TSM_BIN" verify -q "$INFLUXDB_DIR"
  fi
  if [ "$HAVE_DUCKDB" = 1 ]; then
    rm -f "$W/duckdb.parquet"
    timed duckdb_lp_to_parquet "$r" "$W/duckdb.parquet" -- "$PYTHON" "$REALDATA/duckdb_lp_to_parquet.py" "$W/inspect.lp" "$W/duckdb.parquet"
  fi
done

TSM_BYTES=$(find "$INFLUXDB_DIR/data" -name '*.tsm' -printf '%s\n' | awk '{s+=$1} END{print s+0}')
# The last 2-thread Parquet export's files (OUT/<db>/<rp>/<measurement>/*.parquet): every
# file costs a reader an open and a footer, and with one file per shard and measurement the
# many-shards shape would have 1,500 per measurement. Each folder holding them is one table.
PQ_FILES=$(find "$W/pq2" -type f -name '*.parquet' | wc -l)
PQ_TABLES=$(find "$W/pq2" -type f -name '*.parquet' -printf '%h\n' | sort -u | wc -l)
"$PYTHON" - "$TSV" "$TSM_BYTES" "$HAVE_DUCKDB" "${SHAPE:-bench}" "$PQ_FILES" "$PQ_TABLES" <<'EOF' | tee "$W/compare-summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
tsm_bytes, have_duckdb, shape = int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
pq_files, pq_tables = int(sys.argv[5]), int(sys.argv[6])
# Each shape's targets (issue 13; the bench directory's from the issues before it too).
# A ratio is a floor, bytes, memory and file counts are ceilings. inspect_1thread: the
# 1-thread Parquet export (step parquet_1thread) against influx_inspect, which is one thread
# too; files: .parquet files of the 2-thread export, manyshards' bound being its number of
# measurements (cpu, mem, disk: make_manyshards_dir.sh), i.e. one file per measurement.
TARGETS = {
    "bench": dict(pipeline=25, inspect=10, lp=2, threads=1.8, bytes=0.25, rss=256, tools_rss=256),
    "telegraf": dict(inspect=12, bytes=0.42, rss=128),
    "card250k": dict(rss=256, tools_rss=256),
    "card1m": dict(inspect=6, threads=1.6, rss=256, tools_rss=256),
    "manyshards": dict(inspect=4, inspect_1thread=1.0, lp=2, bytes=0.30, rss=64, files=3),
}.get(shape, {})
def target(key, value, unit="x"):
    if key not in TARGETS:
        return ""
    want = TARGETS[key]
    if unit == "x":
        bound, met = f">= {want}x", value >= want
    else:
        bound, met = f"<= {want}{' ' + unit if unit else ''}", value <= want
    return f" (target {bound}: {'met' if met else 'MISSED'})"
steps = {}
for r in rows:
    steps.setdefault(r["step"], []).append(r)
med = lambda step, k: statistics.median(float(r[k]) for r in steps[step])
print(f"{'step':24} {'runs':>4} {'wall s (median)':>16} {'user s':>7} {'sys s':>6} {'RssAnon MiB':>11} {'VmHWM MiB':>9} {'output B':>12}")
for s, rs in steps.items():
    print(f"{s:24} {len(rs):4} {med(s,'wall_s'):16.3f} {med(s,'user_s'):7.2f} {med(s,'sys_s'):6.2f} "
          f"{max(float(r['rss_anon_kb']) for r in rs)/1024:11.1f} {max(float(r['vm_hwm_kb']) for r in rs)/1024:9.1f} {int(rs[-1]['output_bytes']):12d}")
pq, pq1, lp, ii = (med(s, "wall_s") for s in ("parquet_2threads", "parquet_1thread", "lp_2threads", "inspect_lponly"))
print()
if have_duckdb:
    sums = [float(a["wall_s"]) + float(b["wall_s"]) for a, b in zip(steps["inspect_lponly"], steps["duckdb_lp_to_parquet"])]
    pipe = statistics.median(sums)
    print(f"pipeline (inspect -lponly + duckdb), median of per-round sums: {pipe:.3f} s")
    print(f"parquet export vs pipeline:           {pipe / pq:6.1f}x faster{target('pipeline', pipe / pq)}")
print(f"parquet export vs inspect -lponly:    {ii / pq:6.1f}x faster{target('inspect', ii / pq)}")
print(f"1-thread parquet vs inspect -lponly:  {ii / pq1:6.2f}x faster{target('inspect_1thread', ii / pq1)}")
print(f"lp export vs inspect -lponly:         {ii / lp:6.1f}x faster{target('lp', ii / lp)}")
print(f"2 threads vs 1 thread (parquet):      {pq1 / pq:6.2f}x{target('threads', pq1 / pq)}")
pq_bytes = int(steps["parquet_2threads"][-1]["output_bytes"])
print(f"parquet bytes / TSM bytes:            {pq_bytes / tsm_bytes:6.3f} ({pq_bytes} / {tsm_bytes}){target('bytes', pq_bytes / tsm_bytes, '')}")
print(f"parquet files (2 threads):            {pq_files:6d} in {pq_tables} measurement folders{target('files', pq_files, '')}")
peak = lambda step: max(float(r["rss_anon_kb"]) for r in steps[step]) / 1024
print(f"peak RssAnon, parquet export:         {peak('parquet_2threads'):6.1f} MiB{target('rss', peak('parquet_2threads'), 'MiB')}")
for s in ("inspect", "verify"):
    if s in steps:
        print(f"peak RssAnon, {s + ':':24}{peak(s):6.1f} MiB, {med(s, 'wall_s'):.2f} s{target('tools_rss', peak(s), 'MiB')}")
EOF
rm -f "$W/time.txt" "$W/stdout.txt" "$W/stderr.txt" "$MEM"
log "results: $TSV, $W/compare-summary.txt (outputs kept in $W)"
