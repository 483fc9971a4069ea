#!/usr/bin/env bash
# influx-tsm against a running influxd: a private influxd 1.6.7 with aggressive cache
# snapshots (256 KB or 1 s without writes) and full compactions (5 s without writes) is
# written to for SECONDS while its live folder is exported again and again
# (tests/live_influxd.py says what each export must hold).
#
#   tests/live_influxd.sh [--bin PATH] [--seconds N] [--keep]
#
# Needs influxd (Debian: apt-get install influxdb) and a Python with pyarrow
# (INFLUX_TSM_PYTHON, as tests/run.sh makes it). Exit status 0 when every export held
# what it must, 1 otherwise.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${INFLUX_TSM_BIN:-$HERE/target/debug/influx-tsm}
SECONDS_=40
KEEP=0
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --seconds) SECONDS_=$2; shift 2;;
    --keep) KEEP=1; shift;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "unknown argument $1" >&2; exit 64;;
  esac
done
PYTHON=${INFLUX_TSM_PYTHON:-$HERE/target/test-venv/bin/python}
"$PYTHON" -c 'import pyarrow' || { echo "live_influxd.sh: $PYTHON has no pyarrow (run tests/run.sh first)" >&2; exit 1; }
command -v "${INFLUXD:-influxd}" >/dev/null || { echo "live_influxd.sh: no influxd" >&2; exit 1; }
[ -x "$BIN" ] || { echo "live_influxd.sh: no influx-tsm at $BIN" >&2; exit 1; }

. "$HERE/fixtures/influxd.sh"
WORK=$(mktemp -d)
cleanup() { influxd_cleanup; if [ "$KEEP" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
mkdir -p "$WORK/out"
INFLUXD_FULL_COLD=5s influxd_write_conf "$WORK" inmem 1s \
  'data:cache-snapshot-memory-size = "256k"'
influxd_start "$WORK"
echo "live_influxd.sh: influxd $INFLUXD_PID at $INFLUXD_URL, writing and exporting for ${SECONDS_}s" >&2
"$PYTHON" "$HERE/tests/live_influxd.py" "$INFLUXD_URL" "$WORK/influxdb" "$BIN" "$SECONDS_" "$WORK/out"
