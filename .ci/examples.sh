#!/usr/bin/env bash
# Runs each library crate's example (README: Embedding) on fixtures/small-a and checks
# what it prints against the server's answers in fixtures/small-a/oracle_typed.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
fixture=fixtures/small-a/influxdb
oracle=fixtures/small-a/oracle_typed.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Points and values per db/rp/measurement, as the server returned them.
python3 - "$oracle" > "$tmp/oracle.txt" <<'PY'
import json, sys, collections
counts = collections.Counter()
values = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = f"{r['db']}/{r['rp']}/{r['m']}"
    counts[key] += 1
    values[key] += len(r["fields"])
for key in sorted(counts):
    print(f"{key}: {counts[key]} points, {values[key]} values")
PY

cargo run -q --locked -p influx-tsm-shard --example count_values -- "$fixture" > "$tmp/count.txt"
diff -u "$tmp/oracle.txt" "$tmp/count.txt"
echo "count_values: every measurement's points and values equal the oracle"

cargo run -q --locked -p influx-tsm-export --example export_with_progress -- "$fixture" "$tmp/out" 2 \
    > "$tmp/export.txt" 2> "$tmp/progress.txt"
points=$(wc -l < "$oracle")
values=$(awk -F': ' '{split($2, a, " "); s += a[3]} END {print s}' "$tmp/oracle.txt")
grep -q "^[0-9]* files, $points rows, $values values, " "$tmp/export.txt" \
    || { echo "export_with_progress: expected $points rows, $values values:"; cat "$tmp/export.txt"; exit 1; }
grep -q "100 % of the input" "$tmp/progress.txt" \
    || { echo "export_with_progress: no final progress line"; cat "$tmp/progress.txt"; exit 1; }
echo "export_with_progress: $points rows and $values values, progress to 100 %"

air=$(grep '^airq/autogen/air: ' "$tmp/oracle.txt" | awk '{print $2}')
cargo run -q --locked -p influx-tsm-arrow --example measurement_to_parquet -- \
    "$fixture" airq air "$tmp/air.parquet" > "$tmp/air.txt"
grep -q "^$air rows written" "$tmp/air.txt" \
    || { echo "measurement_to_parquet: expected $air rows:"; cat "$tmp/air.txt"; exit 1; }
echo "measurement_to_parquet: $air rows of airq/autogen/air"
