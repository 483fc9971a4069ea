#!/usr/bin/env bash
# Round trip through a real InfluxDB 1.x server: export line protocol with influx-tsm,
# import it into a fresh private influxd, dump what the server then returns with
# ../shared/realdata/canonical.py, and compare with what the original data returned.
#
#   tests/roundtrip_influxd.sh [--bin PATH] [--shared DIR] [--keep] [FIXTURE...]
#
# Cases:
#   edge      line protocol with every escaping and formatting corner (measurement, tag
#             and field keys with `,` ` ` `=` `"`, strings with quotes, backslashes and
#             newlines, -0, 5e-324, 1.7976931348623157e+308, 1e+300, large integers) is
#             written to server A over /write and left in its WAL; A's answer is the
#             oracle. influx-tsm exports A's directory; the export goes to server B over
#             /write; B's answer must equal A's.
#   FIXTURE   (default: fixtures/small-a fixtures/small-b) the fixture is exported twice:
#             to stdout with --with-ddl, imported with `influx -import` into server B;
#             and as one file per group of shards, sent to server C over /write (databases and
#             policies created first). Both answers must equal FIXTURE/oracle.jsonl.
#
# Why oracle.jsonl and not oracle_typed.jsonl: both servers are asked the same
# `SELECT * ... GROUP BY *`. The export keeps each shard's types (integers get `i`), so
# the re-imported server holds the same typed values, and where a field's type differs
# between shards its answer casts exactly as the original's did, as long as those values
# land in different shards again (the DDL creates INF policies with the default 7-day
# shard groups; two original shards with different types inside one new shard group
# would make the server refuse the second type, and the comparison shows it).
# oracle_typed.jsonl is what the export itself must equal value for value; the Rust
# end-to-end tests check that.
#
# Needs influxd and influx (Debian: apt-get install influxdb influxdb-client) and
# python3. Exit status: 0 all cases equal, 1 a difference or failure, 77 skipped
# (no influxd). Servers bind 127.0.0.1 on free ports and are stopped by PID.
set -euo pipefail

HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${INFLUX_TSM_BIN:-}
SHARED=${SHARED:-$HERE/../shared/realdata}
KEEP=0
FIXTURES=()
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=$2; shift 2;;
    --shared) SHARED=$2; shift 2;;
    --keep) KEEP=1; shift;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) FIXTURES+=("$1"); shift;;
  esac
done
[ ${#FIXTURES[@]} -gt 0 ] || FIXTURES=("$HERE/fixtures/small-a" "$HERE/fixtures/small-b")

INFLUXD=${INFLUXD:-influxd}
INFLUX=${INFLUX:-influx}
if ! command -v "$INFLUXD" >/dev/null || ! command -v "$INFLUX" >/dev/null; then
  echo "roundtrip: SKIPPED: influxd or influx not found (apt-get install influxdb influxdb-client)"
  exit 77
fi
if [ -z "$BIN" ]; then
  (cd "$HERE" && cargo build --workspace --release --quiet)
  BIN=${CARGO_TARGET_DIR:-$HERE/target}/release/influx-tsm
fi

# shellcheck source=../fixtures/influxd.sh
. "$HERE/fixtures/influxd.sh"
WORK=$(mktemp -d)
cleanup() {
  influxd_cleanup
  if [ $KEEP = 1 ]; then echo "roundtrip: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# start_server ROOT: a private influxd (fixtures/influxd.sh) with data/wal/meta under
# ROOT; snapshots held off so written data stays in the WAL; no limit on series, tag
# values or request bodies. Sets URL and PORT; influxd_stop stops it.
start_server() {
  mkdir -p "$1"
  influxd_write_conf "$1" inmem 10000h 'data:cache-max-memory-size = "2g"' \
    'data:cache-snapshot-memory-size = "512m"' 'data:max-series-per-database = 0' \
    'data:max-values-per-tag = 0' 'http:max-body-size = 0'
  influxd_start "$1"
  URL=$INFLUXD_URL PORT=$INFLUXD_HTTP_PORT
}

q() { python3 "$SHARED/influx_http.py" query "$URL" --q "$1" >/dev/null; }

# compare EXPECTED ACTUAL NAME: exact comparison of two canonical dumps.
compare() {
  python3 - "$1" "$2" "$3" <<'EOF'
import sys
want = open(sys.argv[1], encoding="utf-8").read().splitlines()
got = open(sys.argv[2], encoding="utf-8").read().splitlines()
name = sys.argv[3]
missing = sorted(set(want) - set(got))
extra = sorted(set(got) - set(want))
if not missing and not extra and len(want) == len(got):
    print(f"roundtrip: {name}: OK, {len(got)} points equal")
    sys.exit(0)
print(f"roundtrip: {name}: DIFFERENT: {len(want)} points expected, {len(got)} read back; "
      f"{len(missing)} missing or changed, {len(extra)} extra or changed")
for line in missing[:5]:
    print("  expected:", line[:400])
for line in extra[:5]:
    print("  got:     ", line[:400])
sys.exit(1)
EOF
}

# write_shard_files DIR: sends every OUT/<db>/<rp>/<shard>.lp to the server over /write.
write_shard_files() {
  local dir=$1 f rel db rp
  while IFS= read -r f; do
    rel=${f#"$dir"/}; db=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "${rel%%/*}")
    rel=${rel#*/}; rp=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.unquote(sys.argv[1]))' "${rel%%/*}")
    q "CREATE DATABASE \"$db\""
    q "CREATE RETENTION POLICY \"$rp\" ON \"$db\" DURATION INF REPLICATION 1" || true
    python3 "$SHARED/influx_http.py" write "$URL" --db "$db" --rp "$rp" --file "$f" 2>/dev/null
  done < <(find "$dir" -name '*.lp' -not -path '*/.influx-tsm/*' | sort)
}

PASSED=0
FAILED=0
# check CMD...: runs one comparison and counts it.
check() {
  if "$@"; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}

# ---- edge case -------------------------------------------------------------------
edge() {
  local w=$WORK/edge
  mkdir -p "$w"
  python3 - "$w/input.lp" <<'EOF'
import sys
lines = [
    r'edge\,m\ x,t\ k=v\,a\=b\ c,u=Hải\ Phòng f\ k\,\=\"q=1.5,s="quote \" back \\ end",i=-9223372036854775806i,b=true 1700000000000000000',
    'edge\\,m\\ x,t\\ k=v\\,a\\=b\\ c,u=Hải\\ Phòng s="line one\nline two\n\nafter blank\n# not a comment",z=-0 1700000000000000001',
    r'edge\,m\ x,t\ k=v\,a\=b\ c,u=Hải\ Phòng big=1.7976931348623157e+308,tiny=5e-324,e=1e+300,m=1234567.5,n=-2.5e-07,w=70,i=9223372036854775807i 1700000000000000002',
    r'plain value=0.1,s="",t="ends with backslash \\",eq="a=b,c d" -1',
    r'plain value=0.30000000000000004,s="tab	and unicode ✓" 0',
]
open(sys.argv[1], "w", encoding="utf-8").write("\n".join(lines) + "\n")
EOF
  start_server "$w/a"
  q 'CREATE DATABASE "edge db"'
  python3 "$SHARED/influx_http.py" write "$URL" --db "edge db" --file "$w/input.lp" 2>/dev/null
  python3 "$SHARED/canonical.py" --url "$URL" --out "$w/oracle.jsonl" >/dev/null
  influxd_stop
  "$BIN" export "$w/a/influxdb" --format lp --out "$w/lp" -q
  start_server "$w/b"
  write_shard_files "$w/lp"
  python3 "$SHARED/canonical.py" --url "$URL" --out "$w/back.jsonl" >/dev/null
  influxd_stop
  check compare "$w/oracle.jsonl" "$w/back.jsonl" "edge cases over /write"
}
edge

# ---- fixtures --------------------------------------------------------------------
for fixture in "${FIXTURES[@]}"; do
  name=$(basename "$fixture")
  w=$WORK/$name
  mkdir -p "$w"
  if ! "$BIN" export "$fixture/influxdb" --format lp --out - --with-ddl -q > "$w/all.lp" 2> "$w/export.err"; then
    cat "$w/export.err"; FAILED=$((FAILED + 1)); continue
  fi
  "$BIN" export "$fixture/influxdb" --format lp --out "$w/files" -q

  start_server "$w/b"
  "$INFLUX" -host 127.0.0.1 -port "$PORT" -import -path "$w/all.lp" -precision ns > "$w/import.log" 2>&1 \
    || { echo "roundtrip: $name: influx -import failed:"; tail -5 "$w/import.log"; FAILED=$((FAILED + 1)); }
  python3 "$SHARED/canonical.py" --url "$URL" --out "$w/imported.jsonl" >/dev/null
  influxd_stop
  check compare "$fixture/oracle.jsonl" "$w/imported.jsonl" "$name via influx -import"

  start_server "$w/c"
  write_shard_files "$w/files"
  python3 "$SHARED/canonical.py" --url "$URL" --out "$w/written.jsonl" >/dev/null
  influxd_stop
  check compare "$fixture/oracle.jsonl" "$w/written.jsonl" "$name via /write, one file per group of shards"
done

echo "roundtrip: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
