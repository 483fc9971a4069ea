#!/usr/bin/env bash
# Runs every target, one at a time, for the given seconds each ("target:secs" args),
# logging to logs/<target>.log and keeping crashers in artifacts/<target>/.
set -u
cd "$(dirname "$0")"
mkdir -p logs
for spec in "$@"; do
    t=${spec%%:*}; secs=${spec##*:}
    mkdir -p "artifacts/$t" "corpus/$t"
    echo "== $t $secs s $(date +%T)" >> logs/summary.txt
    cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$secs" \
        -rss_limit_mb=2048 -timeout=10 -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
        >> "logs/$t.log" 2>&1
    echo "   rc=$? $(grep -E '^stat::number_of_executed_units' "logs/$t.log" | tail -1)" >> logs/summary.txt
done
