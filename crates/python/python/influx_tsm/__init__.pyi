"""Type stubs of the influx_tsm package (see the module docstring)."""

import datetime
import os
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypedDict

_Time = int | datetime.datetime
_Path = str | os.PathLike[str]

class CorruptDataError(ValueError):
    """Damaged input; ``file`` and ``offset`` say where (None when unknown)."""

    file: str | None
    offset: int | None

class Scan:
    """One measurement's rows as an Arrow stream (Arrow PyCapsule interface).

    Each ``__arrow_c_stream__`` call reads the shards afresh, so a scan may be read more
    than once. Columns: ``time`` (timestamp[ns, UTC]), one dictionary column per tag key,
    one column per field key (float64, int64, uint64, string or bool).
    """

    @property
    def column_names(self) -> list[str]: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __arrow_c_schema__(self) -> object: ...

class Progress(TypedDict):
    shards_done: int
    shards: int
    bytes_done: int
    bytes: int
    values: int
    schemas_read: int
    seconds: float

def scan(
    dir: _Path,
    database: str,
    measurement: str,
    *,
    retention_policy: str | None = None,
    start: _Time | None = None,
    end: _Time | None = None,
    shards: Iterable[int] | None = None,
    columns: Iterable[str] | None = None,
) -> Scan:
    """Rows of ``measurement`` in ``database`` of ``dir`` (an InfluxDB directory holding
    ``data/`` and ``wal/``, or an ``influxd backup`` folder), as the server would return
    them. ``start`` is included, ``end`` excluded; ``shards`` are shard ids; ``columns``
    picks columns by name, in that order, as InfluxQL's ``SELECT f1, tag, time`` does:
    fields not named are never decoded, and a row is a time at which a named field has
    a value (with no field named, every row). Every filter is applied in the reader,
    exactly; shards not selected are not opened.

    Raises ``FileNotFoundError`` (no ``dir``), ``ValueError`` (no such measurement or
    column, bad option), ``CorruptDataError``.
    """

def inspect(
    dir: _Path,
    *,
    databases: Iterable[str] | None = None,
    wal_dir: _Path | None = None,
) -> dict[str, Any]:
    """What ``influx-tsm inspect --json dir`` prints, as Python data."""

def export(
    dir: _Path,
    out: _Path,
    *,
    progress: Callable[[Progress], object] | None = None,
    format: Literal["parquet", "lp"] = "parquet",
    compress: str | None = None,
    with_ddl: bool = False,
    threads: int | None = None,
    databases: Iterable[str] | None = None,
    retention_policies: Iterable[str] | None = None,
    measurements: Iterable[str] | None = None,
    exclude_measurements: Iterable[str] | None = None,
    start: _Time | None = None,
    end: _Time | None = None,
    shards: Iterable[int] | None = None,
    compression: str | None = None,
    type_conflicts: Literal["split", "float", "string"] = "split",
    row_group_size: int | None = None,
    target_file_size: int | None = None,
    file_per_shard: bool = False,
    small_shard_bytes: int | None = None,
    batch_bytes: int | None = None,
    skip_corrupt: bool = False,
    include_unlisted_shards: bool = False,
    partition: str | None = None,
    node: str | None = None,
    register: bool = False,
    verify_crc: bool = True,
    resume: bool = False,
    overwrite: bool = False,
    dry_run: bool = False,
    data_dir: _Path | None = None,
    wal_dir: _Path | None = None,
    staging: _Path | None = None,
) -> dict[str, Any]:
    """``influx-tsm export dir --out out`` with the same options (flag ``--x-y`` is
    keyword ``x_y``; ``--no-verify-crc`` is ``verify_crc=False``; repeatable flags take
    lists; sizes are bytes). ``out`` may be a bucket URL (``s3://``, ``gs://``, ``az://``).
    Returns the report ``--json`` prints (the plan with ``dry_run=True``).

    ``progress`` is called about ten times a second on the calling thread; an exception
    it raises (or Ctrl-C) stops the export and is raised: the groups of shards finished
    stay, and ``resume=True`` continues. Without ``progress``, a bar is drawn on stderr
    when it is a terminal. The GIL is released while the export runs.
    """
