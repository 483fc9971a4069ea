"""Times `influx_tsm.scan` of the biggest measurement of a directory into a pyarrow Table
and into a DuckDB aggregate, against the Rust reader alone (crates/arrow/examples/scan_rows.rs)
and against pyarrow reading our own Parquet export of the measurement.

    python crates/python/bench.py DIR [SCAN_ROWS_BINARY] [RUNS]

Build the package with `maturin develop --release` (or RELEASE=1 bash tests/python.sh)
and the binary with `cargo build --release -p influx-tsm-arrow --example scan_rows`.
Prints the best of RUNS for each.
"""

from __future__ import annotations

import collections
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

import influx_tsm


def best(runs, work):
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    dir = sys.argv[1]
    rust = sys.argv[2] if len(sys.argv) > 2 else None
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    values = collections.Counter()
    for shard in influx_tsm.inspect(dir)["shards"]:
        for name, m in shard["measurements"].items():
            values[(shard["database"], name)] += m["values"]
    (db, m), n = values.most_common(1)[0]
    print(f"{dir}: biggest measurement {db}/{m}, {n:,} stored values; best of {runs}")

    seconds, table = best(runs, lambda: pa.table(influx_tsm.scan(dir, db, m)))
    rows = table.num_rows
    print(f"scan -> pyarrow.Table       {seconds:8.3f} s  {rows:,} rows, {table.nbytes / 2**20:,.0f} MiB")
    scan_seconds = seconds

    number = next(f.name for f in table.schema if pa.types.is_floating(f.type) or pa.types.is_integer(f.type))
    query = f"select count(*), avg({number}) from s"
    # DuckDB reads the scan object named in the query from the calling frame.
    def aggregate():
        s = influx_tsm.scan(dir, db, m)
        return duckdb.sql(f"select count(*), avg({number}) from s").fetchall()

    seconds, answer = best(runs, aggregate)
    assert answer[0][0] == rows
    print(f"scan -> DuckDB {query!r:32} {seconds:8.3f} s")

    if rust:
        out = subprocess.run([rust, dir, db, m, str(runs)], check=True, capture_output=True, text=True).stdout
        rust_seconds = float(re.search(r"best ([0-9.]+) s", out).group(1))
        print(f"Rust reader alone           {rust_seconds:8.3f} s  (scan -> Table: {scan_seconds / rust_seconds - 1:+.1%})")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        influx_tsm.export(dir, tmp + "/out", databases=[db], measurements=[m], progress=lambda p: None)
        export_seconds = time.perf_counter() - start
        folder = next(p for p in pathlib.Path(tmp, "out").rglob("*.parquet")).parent
        seconds, parquet = best(runs, lambda: pq.read_table(folder))
        assert parquet.num_rows == rows
        print(f"pyarrow reads our Parquet   {seconds:8.3f} s  (export took {export_seconds:.3f} s)")


if __name__ == "__main__":
    main()
