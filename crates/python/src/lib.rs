//! The `influx_tsm` Python package's native module (`influx_tsm._native`): `scan`,
//! `inspect` and `export` over the workspace's libraries. The Python side
//! (`python/influx_tsm/__init__.py`) converts times and draws the default progress bar.
#![forbid(unsafe_code)]

mod errors;
mod export;
mod json;
mod scan;

use std::path::PathBuf;

use influx_tsm_shard::shard::TimeRange;
use pyo3::prelude::*;

use crate::errors::{CorruptDataError, export_error, require_exists};
use crate::export::ExportArgs;
use crate::scan::{Scan, ScanSpec};

/// `influx_tsm.scan`: see the stubs (`__init__.pyi`).
#[pyfunction]
#[pyo3(name = "scan", signature = (dir, database, measurement, *, retention_policy=None, start=None, end=None, shards=None, columns=None))]
#[allow(clippy::too_many_arguments)]
fn scan_py(
    py: Python<'_>,
    dir: PathBuf,
    database: String,
    measurement: String,
    retention_policy: Option<String>,
    start: Option<i64>,
    end: Option<i64>,
    shards: Option<Vec<u64>>,
    columns: Option<Vec<String>>,
) -> PyResult<Scan> {
    let range = TimeRange {
        start: start.unwrap_or(i64::MIN),
        end: end.unwrap_or(i64::MAX),
    };
    Scan::new(
        py,
        ScanSpec {
            dir,
            database,
            measurement,
            retention_policy,
            range,
            shards,
            columns,
        },
    )
}

/// `influx_tsm.inspect`: what `influx-tsm inspect --json DIR` prints, as Python data.
#[pyfunction]
#[pyo3(signature = (dir, *, databases=None, wal_dir=None))]
fn inspect(
    py: Python<'_>,
    dir: PathBuf,
    databases: Option<Vec<String>>,
    wal_dir: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    require_exists(&dir)?;
    let Some(dirs) = influx_tsm_export::StorageDirs::of_folder(&dir, wal_dir) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{} is not a folder",
            dir.display()
        )));
    };
    let databases = databases.unwrap_or_default();
    let report = py
        .detach(|| influx_tsm_export::inspect::inspect(&dirs.data, dirs.wal.as_deref(), &databases))
        .map_err(|e| export_error(py, e))?;
    let value = serde_json::to_value(&report)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    json::to_python(py, &value)
}

/// `influx_tsm.export`: see the stubs (`__init__.pyi`).
#[pyfunction]
#[pyo3(name = "export", signature = (dir, out, *, progress=None, format="parquet".to_string(), compress=None,
    with_ddl=false, threads=None, databases=None, retention_policies=None, measurements=None,
    exclude_measurements=None, start=None, end=None, shards=None, compression=None,
    type_conflicts="split".to_string(), row_group_size=None, target_file_size=None,
    file_per_shard=false, small_shard_bytes=None, batch_bytes=None, skip_corrupt=false,
    include_unlisted_shards=false, partition=None, node=None, register=false, verify_crc=true,
    resume=false, overwrite=false, dry_run=false, data_dir=None, wal_dir=None, staging=None))]
#[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
fn export_py(
    py: Python<'_>,
    dir: PathBuf,
    out: String,
    progress: Option<Bound<'_, PyAny>>,
    format: String,
    compress: Option<String>,
    with_ddl: bool,
    threads: Option<usize>,
    databases: Option<Vec<String>>,
    retention_policies: Option<Vec<String>>,
    measurements: Option<Vec<String>>,
    exclude_measurements: Option<Vec<String>>,
    start: Option<i64>,
    end: Option<i64>,
    shards: Option<Vec<u64>>,
    compression: Option<String>,
    type_conflicts: String,
    row_group_size: Option<usize>,
    target_file_size: Option<u64>,
    file_per_shard: bool,
    small_shard_bytes: Option<u64>,
    batch_bytes: Option<usize>,
    skip_corrupt: bool,
    include_unlisted_shards: bool,
    partition: Option<String>,
    node: Option<String>,
    register: bool,
    verify_crc: bool,
    resume: bool,
    overwrite: bool,
    dry_run: bool,
    data_dir: Option<PathBuf>,
    wal_dir: Option<PathBuf>,
    staging: Option<PathBuf>,
) -> PyResult<Py<PyAny>> {
    let args = ExportArgs {
        dir,
        out,
        data_dir,
        wal_dir,
        staging,
        format,
        compress,
        with_ddl,
        threads,
        databases: databases.unwrap_or_default(),
        retention_policies: retention_policies.unwrap_or_default(),
        measurements: measurements.unwrap_or_default(),
        exclude_measurements: exclude_measurements.unwrap_or_default(),
        start,
        end,
        shards: shards.unwrap_or_default(),
        compression,
        type_conflicts,
        row_group_size,
        target_file_size,
        file_per_shard,
        small_shard_bytes,
        batch_bytes,
        skip_corrupt,
        include_unlisted_shards,
        partition,
        node,
        register,
        verify_crc,
        resume,
        overwrite,
        dry_run,
    };
    export::run(py, &args, progress)
}

/// The native module; `influx_tsm/__init__.py` re-exports it.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(scan_py, m)?)?;
    m.add_function(wrap_pyfunction!(inspect, m)?)?;
    m.add_function(wrap_pyfunction!(export_py, m)?)?;
    m.add_class::<Scan>()?;
    m.add("CorruptDataError", m.py().get_type::<CorruptDataError>())?;
    Ok(())
}
