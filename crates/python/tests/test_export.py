"""`influx_tsm.inspect` and `influx_tsm.export` against the command line; errors;
an interrupted export resumed."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import pytest

import influx_tsm
from conftest import FIXTURES, inputs, tree

# (Python keywords, the same as CLI flags)
VARIANTS = [
    ({}, []),
    ({"file_per_shard": True, "threads": 1}, ["--file-per-shard", "-j", "1"]),
    ({"type_conflicts": "float"}, ["--type-conflicts", "float"]),
    (
        {"type_conflicts": "string", "compression": "snappy", "row_group_size": 1000},
        ["--type-conflicts", "string", "--compression", "snappy", "--row-group-size", "1000"],
    ),
    ({"format": "lp", "compress": "gzip", "with_ddl": True}, ["--format", "lp", "--compress", "gzip", "--with-ddl"]),
    ({"databases": ["airq"], "start": 1709520000000000000, "end": 1709600000000000000},
     ["--database", "airq", "--start", "1709520000000000000", "--end", "1709600000000000000"]),
]


def without_report(files):
    # The report names its own output folder and times itself.
    return {k: v for k, v in files.items() if k != "report.json"}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_inspect_matches_the_cli(fixture, cli):
    for source in inputs(fixture):
        printed = subprocess.run([cli, "inspect", str(source), "--json"], check=True, capture_output=True).stdout
        assert influx_tsm.inspect(source) == json.loads(printed), source


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.name)
def test_export_writes_the_files_the_cli_writes(fixture, cli, tmp_path):
    for i, source in enumerate(inputs(fixture)):
        # Every variant from the folder; the backups, read through another path, plainly.
        variants = VARIANTS if i == 0 else VARIANTS[:1] + VARIANTS[4:5]
        for j, (keywords, flags) in enumerate(variants):
            ours, theirs = tmp_path / f"py-{i}-{j}", tmp_path / f"cli-{i}-{j}"
            report = influx_tsm.export(source, ours, **keywords)
            printed = subprocess.run(
                [cli, "export", str(source), "--out", str(theirs), "--json", "-q", *flags],
                check=True, capture_output=True,
            ).stdout
            cli_report = json.loads(printed)
            got, want = without_report(tree(ours)), without_report(tree(theirs))
            assert sorted(got) == sorted(want), (source, flags)
            if "start" not in keywords:
                assert any(name.endswith((".parquet", ".lp", ".lp.gz")) for name in got), (source, flags)
            for name in want:
                assert got[name] == want[name], (source, flags, name)
            for key in ("exit_code", "files", "rows", "values"):
                if key in cli_report:
                    assert report[key] == cli_report[key], key
            assert report.keys() == cli_report.keys()


def test_dry_run_writes_nothing(tmp_path):
    plan = influx_tsm.export(FIXTURES[0] / "influxdb", tmp_path / "out", dry_run=True)
    assert isinstance(plan, dict) and plan
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_progress_is_called_with_counts(tmp_path):
    calls = []
    influx_tsm.export(
        FIXTURES[0] / "influxdb", tmp_path / "out", progress=calls.append, file_per_shard=True, threads=1
    )
    assert calls
    last = calls[-1]
    assert last["shards_done"] == last["shards"] > 0
    assert last["bytes_done"] == last["bytes"]
    assert last["values"] > 0
    # A worker that finished a shard waits for a call that counts it: on one worker,
    # every count is seen.
    assert {c["shards_done"] for c in calls} >= set(range(1, last["shards"] + 1))


def test_a_cluster_nodes_progress_counts_its_share(tmp_path):
    # Two nodes holding the same shards: each exports a share, and its progress counts
    # that share, not the whole plan.
    out = tmp_path / "out"
    for node in ("node-a", "node-b"):
        influx_tsm.export(small_a(), out, node=node, register=True)
    calls = []
    report = influx_tsm.export(small_a(), out, node="node-a", progress=calls.append)
    last = calls[-1]
    everything = influx_tsm.export(small_a(), tmp_path / "all", dry_run=True)
    assert 0 < last["shards"] < len(everything["shards"])
    assert last["shards_done"] == last["shards"]
    assert last["bytes_done"] == last["bytes"]
    assert report["exit_code"] == 0


def small_a():
    return next(f for f in FIXTURES if f.name == "small-a") / "influxdb"


@pytest.mark.parametrize("stop", ["raise", "sigint"])
def test_an_interrupted_export_resumes_to_the_same_files(stop, cli, tmp_path):
    out, whole = tmp_path / "out", tmp_path / "whole"
    subprocess.run([cli, "export", str(small_a()), "--out", str(whole), "-q", "--file-per-shard", "-j", "1"], check=True)

    def progress(p):
        if p["shards_done"] >= 2:
            if stop == "raise":
                raise KeyboardInterrupt
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        influx_tsm.export(small_a(), out, progress=progress, file_per_shard=True, threads=1)
    partial = without_report(tree(out))
    want = without_report(tree(whole))
    parquet = [n for n in want if n.endswith(".parquet")]
    done = [n for n in partial if n.endswith(".parquet")]
    assert 0 < len(done) < len(parquet), "stopped part way"
    assert "manifest.json" not in partial
    for name in done:
        assert partial[name] == want[name], name

    with pytest.raises(ValueError, match="resume"):
        influx_tsm.export(small_a(), out, file_per_shard=True, threads=1)
    report = influx_tsm.export(small_a(), out, file_per_shard=True, threads=1, resume=True)
    assert report["exit_code"] == 0
    assert without_report(tree(out)) == want


def test_a_missing_directory_is_file_not_found(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError):
        influx_tsm.scan(missing, "db", "m")
    with pytest.raises(FileNotFoundError):
        influx_tsm.inspect(missing)
    with pytest.raises(FileNotFoundError):
        influx_tsm.export(missing, tmp_path / "out")


@pytest.mark.parametrize(
    "keywords",
    [
        {"compression": "bogus"},
        {"format": "xml"},
        {"type_conflicts": "sometimes"},
        {"partition": "3/2"},
        {"compress": "gzip(12)", "format": "lp"},
        {"compress": "gzip"},
        {"resume": True, "overwrite": True},
        {"row_group_size": 0},
        {"measurements": ["[unclosed"]},
        {"start": 10, "end": 5},
    ],
)
def test_a_bad_option_is_value_error(keywords, tmp_path):
    with pytest.raises(ValueError):
        influx_tsm.export(small_a(), tmp_path / "out", **keywords)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_unknown_keyword_is_type_error(tmp_path):
    with pytest.raises(TypeError):
        influx_tsm.export(small_a(), tmp_path / "out", colour="blue")


def test_an_output_inside_the_input_is_refused(tmp_path):
    copy = tmp_path / "influxdb"
    shutil.copytree(small_a(), copy)
    with pytest.raises(ValueError):
        influx_tsm.export(copy, copy / "out")


def damaged_copy(tmp_path):
    """small-a with one TSM file cut short: its index cannot be read."""
    copy = tmp_path / "influxdb"
    shutil.copytree(small_a(), copy)
    victim = sorted((copy / "data").rglob("*.tsm"))[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 7])
    return copy, victim


def test_a_damaged_file_is_corrupt_data_error_with_file_and_offset(tmp_path):
    copy, victim = damaged_copy(tmp_path)
    with pytest.raises(influx_tsm.CorruptDataError) as raised:
        influx_tsm.export(copy, tmp_path / "out")
    assert isinstance(raised.value, ValueError)
    assert raised.value.file == str(victim)
    assert isinstance(raised.value.offset, int)
    assert str(victim) in str(raised.value)
    db, rp = victim.relative_to(copy / "data").parts[:2]
    measurements = influx_tsm.inspect(small_a())["shards"]
    names = {m for s in measurements if s["database"] == db for m in s["measurements"]}
    errors = []
    for m in sorted(names):
        try:
            influx_tsm.scan(copy, db, m, retention_policy=rp)
        except influx_tsm.CorruptDataError as err:
            errors.append(err)
    assert errors, "opening the damaged shard fails"
    assert all(e.file == str(victim) and isinstance(e.offset, int) for e in errors)


def test_skip_corrupt_exports_the_rest_with_exit_code_2(tmp_path):
    copy, _ = damaged_copy(tmp_path)
    report = influx_tsm.export(copy, tmp_path / "out", skip_corrupt=True)
    assert report["exit_code"] == 2
