"""`influx_tsm.scan` against the server's oracle, through the consumers, with filters."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import influx_tsm
from conftest import FIXTURES, assert_same, inputs, load_oracle, table_points


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_every_measurement_equals_the_oracle(fixture):
    """Row count and every non-null cell, for the folder and both backups."""
    oracle = load_oracle(fixture)
    assert oracle
    for source in inputs(fixture):
        assert source.is_dir(), source
        for (db, rp, m), expected in oracle.items():
            table = pa.table(influx_tsm.scan(source, db, m, retention_policy=rp))
            name = f"{source}: {db}/{rp}/{m}"
            assert table.num_rows == len(expected), name
            assert_same(name, expected, table_points(table))


def small_a():
    return FIXTURES[[f.name for f in FIXTURES].index("small-a")] / "influxdb"


def test_consumers_take_a_scan_directly():
    s = influx_tsm.scan(small_a(), "airq", "air", retention_policy="autogen")
    rows = pa.table(s).num_rows
    assert rows > 0
    # Each stream reads the shards afresh: the one scan serves every consumer.
    assert pa.RecordBatchReader.from_stream(s).read_all().num_rows == rows
    assert duckdb.sql("select count(*) from s").fetchall()[0][0] == rows
    by_device = duckdb.sql("select device, count(*) n from s group by device order by device").fetchall()
    assert sum(n for _, n in by_device) == rows
    assert pl.DataFrame(s).height == rows
    assert pd.DataFrame.from_arrow(s).shape[0] == rows
    assert pl.DataFrame(s)["time"].dtype == pl.Datetime("ns", "UTC")


def test_datafusion_runs_sql_over_a_scan():
    """DataFusion (on its own Arrow, not ours) takes the scan through the C stream and
    runs SQL over it; the answer is DuckDB's over the same scan."""
    import datafusion

    s = influx_tsm.scan(small_a(), "airq", "air", retention_policy="autogen")
    ctx = datafusion.SessionContext()
    ctx.from_arrow(s, name="air")
    query = "select count(*) as n, count(distinct device) as d, sum(rssi) as r from air"
    got = ctx.sql(query).to_pydict()
    want = duckdb.sql(query.replace("from air", "from s")).fetchall()[0]
    assert (got["n"][0], got["d"][0], got["r"][0]) == want
    assert want[0] == pa.table(s).num_rows > 0


def full(dir, db, m, rp):
    return pa.table(influx_tsm.scan(dir, db, m, retention_policy=rp))


def test_time_filter_is_exact():
    dir = small_a()
    whole = full(dir, "airq", "air", "autogen")
    times = sorted(t.value for t in whole.column("time").to_pylist())
    # Bounds on existing points: start included, end excluded.
    start, end = times[len(times) // 4], times[3 * len(times) // 4]
    got = pa.table(influx_tsm.scan(dir, "airq", "air", retention_policy="autogen", start=start, end=end))
    want = [t for t in times if start <= t < end]
    assert sorted(t.value for t in got.column("time").to_pylist()) == want
    assert got.num_rows == len(want) > 0
    # The same bounds as datetimes (aware), and pandas Timestamps (nanoseconds kept).
    as_dt = pa.table(influx_tsm.scan(
        dir, "airq", "air", retention_policy="autogen",
        start=pd.Timestamp(start, tz="UTC"), end=pd.Timestamp(end, tz="UTC"),
    ))
    assert as_dt.num_rows == len(want)
    micro_start = dt.datetime.fromtimestamp(start // 1000 / 1e6, tz=dt.timezone.utc)
    micro = pa.table(influx_tsm.scan(dir, "airq", "air", retention_policy="autogen", start=micro_start))
    assert micro.num_rows == len([t for t in times if t >= (start // 1000) * 1000])
    with pytest.raises(ValueError, match="timezone"):
        influx_tsm.scan(dir, "airq", "air", start=dt.datetime(2024, 1, 1))


def test_retention_policy_and_shard_filters_are_exact():
    for fixture in FIXTURES:
        oracle = load_oracle(fixture)
        dir = fixture / "influxdb"
        for (db, rp, m), expected in oracle.items():
            got = pa.table(influx_tsm.scan(dir, db, m, retention_policy=rp))
            assert got.num_rows == len(expected)
        # Without a retention policy, every policy's rows of the measurement.
        by_measurement = {}
        for (db, rp, m), expected in oracle.items():
            by_measurement.setdefault((db, m), 0)
            by_measurement[(db, m)] += len(expected)
        for (db, m), n in by_measurement.items():
            assert pa.table(influx_tsm.scan(dir, db, m)).num_rows == n


def test_shard_filter_selects_exactly_those_shards():
    dir = small_a()
    report = influx_tsm.inspect(dir)
    shards = [s for s in report["shards"] if s["database"] == "airq" and "air" in s["measurements"]]
    assert len(shards) >= 2
    total = 0
    for s in shards:
        got = pa.table(influx_tsm.scan(dir, "airq", "air", retention_policy=s["retention_policy"], shards=[s["id"]]))
        times = [t.value for t in got.column("time").to_pylist()]
        if times:
            assert s["min_time"] <= min(times) and max(times) <= s["max_time"]
        total += got.num_rows
    assert total == full(dir, "airq", "air", "autogen").num_rows


def test_column_filter_is_exact():
    dir = small_a()
    whole = full(dir, "airq", "air", "autogen")
    got = pa.table(influx_tsm.scan(dir, "airq", "air", retention_policy="autogen", columns=["pm25", "time", "device"]))
    assert got.column_names == ["pm25", "time", "device"]
    # InfluxQL's `SELECT pm25, device`: the rows where pm25 has a value; the other fields
    # are not decoded.
    want = whole.filter(pc.is_valid(whole.column("pm25"))).select(["pm25", "time", "device"])
    assert 0 < want.num_rows < whole.num_rows
    assert got.num_rows == want.num_rows
    for name in got.column_names:
        assert got.column(name).equals(want.column(name)), name
    assert got.schema.field("pm25").metadata == whole.schema.field("pm25").metadata
    # No field among the columns: every row.
    tags = pa.table(influx_tsm.scan(dir, "airq", "air", retention_policy="autogen", columns=["time", "device"]))
    assert tags.num_rows == whole.num_rows
    assert tags.column("device").equals(whole.column("device"))
    with pytest.raises(ValueError, match="no column"):
        influx_tsm.scan(dir, "airq", "air", columns=["nope"])


def test_scan_column_names_are_the_schema():
    s = influx_tsm.scan(small_a(), "airq", "air")
    assert s.column_names == pa.schema(s).names
