"""InfluxDB 1.x storage files (TSM, WAL, tombstones), read in place.

- ``scan(dir, database, measurement, ...)``: one measurement as an Arrow stream (the
  Arrow PyCapsule interface), for pyarrow, DuckDB, Polars, pandas and DataFusion.
- ``inspect(dir)``: what the directory holds, as ``influx-tsm inspect --json`` prints it.
- ``export(dir, out, ...)``: the ``influx-tsm export`` engine, returning its report.

Times (``start``, ``end``) are integer nanoseconds since the epoch or timezone-aware
``datetime`` objects (``pandas.Timestamp`` keeps its nanoseconds). A naive ``datetime`` is
refused with ``ValueError``, as the command line refuses a time without an offset: which
zone it meant cannot be known.

Errors: a bad option is ``ValueError``, a missing path ``FileNotFoundError``, damaged data
``CorruptDataError`` (a ``ValueError`` with ``.file`` and ``.offset``), other I/O
``OSError``. Damage found while a consumer reads a scan's stream reaches the consumer as
its own error type (``pyarrow.lib.ArrowInvalid``, ``duckdb.Error``, ...) with the same
text, naming the file and byte offset.
"""

from __future__ import annotations

import datetime as _dt
import os as _os
import sys as _sys

from ._native import CorruptDataError, Scan
from ._native import export as _export
from ._native import inspect as _inspect
from ._native import scan as _scan

__all__ = ["CorruptDataError", "Scan", "export", "inspect", "scan"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _nanoseconds(value, name):
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name}: a bool is not a time")
    if isinstance(value, int):
        return value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name}: {value!r} has no timezone; give one (tzinfo=datetime.timezone.utc) "
                "or integer nanoseconds since the epoch"
            )
        exact = getattr(value, "value", None)
        if isinstance(exact, int) and hasattr(value, "nanosecond"):
            # pandas.Timestamp: its nanoseconds since the epoch, in UTC.
            return exact
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    raise TypeError(
        f"{name}: expected integer nanoseconds or a datetime, not {type(value).__name__}"
    )


def scan(
    dir,
    database,
    measurement,
    *,
    retention_policy=None,
    start=None,
    end=None,
    shards=None,
    columns=None,
):
    """One measurement's rows as an Arrow stream; see ``__init__.pyi``."""
    return _scan(
        _os.fspath(dir),
        database,
        measurement,
        retention_policy=retention_policy,
        start=_nanoseconds(start, "start"),
        end=_nanoseconds(end, "end"),
        shards=None if shards is None else [int(s) for s in shards],
        columns=None if columns is None else list(columns),
    )


def inspect(dir, *, databases=None, wal_dir=None):
    """What ``influx-tsm inspect --json dir`` prints, as Python data."""
    return _inspect(
        _os.fspath(dir),
        databases=None if databases is None else list(databases),
        wal_dir=None if wal_dir is None else _os.fspath(wal_dir),
    )


class _Bar:
    """The default progress: one line on stderr, redrawn, when stderr is a terminal."""

    def __init__(self, stream):
        self.stream = stream
        self.drawn = False

    def __call__(self, p):
        total = max(p["bytes"], 1)
        share = min(p["bytes_done"] / total, 1.0)
        width = 30
        filled = int(share * width)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {share:6.1%} "
            f"{p['shards_done']}/{p['shards']} shards, {p['values']:,} values"
        )
        self.stream.flush()
        self.drawn = True

    def close(self):
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def export(dir, out, *, progress=None, start=None, end=None, **options):
    """``influx-tsm export dir --out out`` with the same options; see ``__init__.pyi``."""
    bar = None
    if progress is None and _sys.stderr is not None and _sys.stderr.isatty():
        bar = progress = _Bar(_sys.stderr)
    try:
        return _export(
            _os.fspath(dir),
            _os.fspath(out),
            progress=progress,
            start=_nanoseconds(start, "start"),
            end=_nanoseconds(end, "end"),
            **{
                k: (_os.fspath(v) if k in ("data_dir", "wal_dir", "staging") and v is not None else v)
                for k, v in options.items()
            },
        )
    finally:
        if bar is not None:
            bar.close()
