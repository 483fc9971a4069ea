"""Shared helpers of the influx_tsm tests: the fixtures, their oracle, the CLI binary."""

from __future__ import annotations

import json
import os
import pathlib
import struct
import subprocess
from collections import defaultdict

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = sorted(p for p in (ROOT / "fixtures").iterdir() if (p / "oracle_typed.jsonl").is_file())
assert FIXTURES, "no fixtures with an oracle"


def cell(kind, value):
    """An oracle or Arrow cell, comparable exactly (a float by its bits)."""
    if kind == "float":
        return ("float", struct.pack("<d", float(value)))
    if kind in ("integer", "unsigned"):
        return (kind, int(value))
    if kind == "boolean":
        return ("boolean", bool(value))
    return ("string", value)


def load_oracle(fixture: pathlib.Path):
    """{(db, rp, measurement): {(tags, time): {field: cell}}}."""
    out = defaultdict(dict)
    for line in (fixture / "oracle_typed.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        p = json.loads(line)
        tags = tuple(sorted((k, v) for k, v in p["tags"]))
        fields = {k: cell(t, v) for k, t, v in p["fields"]}
        key = (tags, p["time"])
        assert key not in out[(p["db"], p["rp"], p["m"])]
        out[(p["db"], p["rp"], p["m"])][key] = fields
    return out


def table_points(table):
    """The rows of a pyarrow table of a scan, read through the column metadata (role,
    original key, stored type), as `crates/arrow/tests/reader.rs` reads them."""
    schema = table.schema
    columns = []
    for i, field in enumerate(schema):
        meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
        columns.append((meta["influxdb.role"], meta["influxdb.key"], meta.get("influxdb.type"), table.column(i).to_pylist()))
    times = next(values for role, _, _, values in columns if role == "time")
    points = {}
    for row, time in enumerate(times):
        ns = time.value if hasattr(time, "value") else time
        tags = []
        fields = {}
        for role, key, kind, values in columns:
            value = values[row]
            if role == "time" or value is None:
                continue
            if role == "tag":
                tags.append((key, value))
            else:
                fields[key] = cell(kind, value)
        key = (tuple(sorted(tags)), ns)
        assert fields, f"row without fields at {key}"
        assert key not in points, f"row twice: {key}"
        points[key] = fields
    return points


def assert_same(name, expected, got):
    problems = []
    for key, fields in expected.items():
        if key not in got:
            problems.append(f"missing {key}")
        elif got[key] != fields:
            problems.append(f"{key}: oracle {fields}, got {got[key]}")
    problems += [f"extra {key}" for key in got if key not in expected]
    assert not problems, f"{name}: {len(problems)} differences, first: {problems[:5]}"


def inputs(fixture):
    """The fixture's InfluxDB folder and its two backups."""
    return [fixture / "influxdb", fixture / "backup-portable", fixture / "backup-legacy"]


@pytest.fixture(scope="session")
def cli():
    """The `influx-tsm` binary: $INFLUX_TSM_CLI, or built with cargo now."""
    given = os.environ.get("INFLUX_TSM_CLI")
    if given:
        return given
    subprocess.run(["cargo", "build", "-q", "-p", "influx-tsm"], cwd=ROOT, check=True)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return str(target / "debug" / "influx-tsm")


def tree(root: pathlib.Path):
    """{relative path: bytes} of every file under root."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
