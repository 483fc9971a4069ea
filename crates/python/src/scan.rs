//! `influx_tsm.scan`: one measurement's rows as an Arrow stream, handed to Python as an
//! `arrow_array_stream` capsule (the Arrow PyCapsule interface) so that pyarrow, DuckDB,
//! Polars, pandas and DataFusion read the batches' buffers where Rust wrote them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow_array::ffi::FFI_ArrowSchema;
use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};
use influx_tsm_arrow::ScanBuilder;
use influx_tsm_backup::{Backup, BackupShard};
use influx_tsm_shard::shard::TimeRange;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::{arrow_error, require_exists, shard_error};

/// What a scan reads: kept so that each `__arrow_c_stream__` call reads it afresh.
#[derive(Clone, Debug)]
pub struct ScanSpec {
    pub dir: PathBuf,
    pub database: String,
    pub measurement: String,
    pub retention_policy: Option<String>,
    pub range: TimeRange,
    pub shards: Option<Vec<u64>>,
    pub columns: Option<Vec<String>>,
}

/// A reader that hands out only some columns of another, in the order asked.
struct Projected {
    inner: Box<dyn RecordBatchReader + Send>,
    indices: Vec<usize>,
    schema: SchemaRef,
}

impl Iterator for Projected {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.inner.next()?;
        Some(batch.and_then(|b| b.project(&self.indices)))
    }
}

impl RecordBatchReader for Projected {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

type Reader = Box<dyn RecordBatchReader + Send>;

/// The error of opening a scan, before it becomes a Python exception (made with the GIL).
pub enum OpenError {
    Arrow(influx_tsm_arrow::Error),
    Backup(influx_tsm_backup::Error),
    Usage(String),
}

impl OpenError {
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            OpenError::Arrow(err) => arrow_error(py, err),
            OpenError::Backup(err) => {
                let err = influx_tsm_shard::Error::from(err);
                let text = crate::errors::chain(&err);
                shard_error(py, &err, text)
            }
            OpenError::Usage(text) => PyValueError::new_err(text),
        }
    }
}

impl ScanSpec {
    /// Builds the reader: the selected shards opened once each to learn the schema (the
    /// first one to read stays open), the filters pushed into the scan.
    pub fn open(&self) -> Result<Reader, OpenError> {
        let mut builder = ScanBuilder::new(self.database.as_str(), self.measurement.as_bytes())
            .time_range(self.range);
        if let Some(rp) = &self.retention_policy {
            builder = builder.retention_policy(rp.as_str());
        }
        if let Some(ids) = &self.shards {
            builder = builder.shards(ids.iter().copied());
        }
        if let Some(columns) = &self.columns {
            builder = builder.only_fields(columns.iter().map(String::as_bytes));
        }
        let scan =
            if self.dir.join("data").is_dir() {
                builder.open_dir(&self.dir).map_err(OpenError::Arrow)?
            } else if Backup::detect(&self.dir).is_some() {
                let backup = Backup::open(&self.dir).map_err(OpenError::Backup)?;
                let locations: Vec<_> = backup.shards.iter().map(BackupShard::location).collect();
                let shards: HashMap<(String, String, u64), BackupShard> = backup
                    .shards
                    .into_iter()
                    .map(|s| ((s.database.clone(), s.retention_policy.clone(), s.id), s))
                    .collect();
                builder
                    .meta(&backup.meta)
                    .files_from(move |location| {
                        let key = (
                            location.database.clone(),
                            location.retention_policy.clone(),
                            location.id,
                        );
                        match shards.get(&key) {
                            Some(shard) => shard
                                .files(&influx_tsm_backup::ReadOptions::default())
                                .map_err(Into::into),
                            // The locations are the backup's own: this cannot happen.
                            None => Err(influx_tsm_shard::Error::new(
                                influx_tsm_shard::ErrorKind::Io(std::io::Error::new(
                                    std::io::ErrorKind::NotFound,
                                    "shard not in the backup",
                                )),
                            )
                            .in_file(&location.data_dir)),
                        }
                    })
                    .build_from(locations)
                    .map_err(OpenError::Arrow)?
            } else {
                return Err(OpenError::Usage(format!(
                    "{} has no data/ folder and is no influxd backup",
                    self.dir.display()
                )));
            };
        let reader: Reader = Box::new(scan);
        match &self.columns {
            None => Ok(reader),
            Some(names) => project(reader, names),
        }
    }
}

/// `reader` with only the columns `names`, in that order.
fn project(reader: Reader, names: &[String]) -> Result<Reader, OpenError> {
    let schema = reader.schema();
    let indices = names
        .iter()
        .map(|name| {
            schema.index_of(name).map_err(|_| {
                let known: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                OpenError::Usage(format!(
                    "no column {name:?}; the columns are {}",
                    known.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let projected = Arc::new(
        schema
            .project(&indices)
            .map_err(|e| OpenError::Usage(e.to_string()))?,
    );
    Ok(Box::new(Projected {
        inner: reader,
        indices,
        schema: projected,
    }))
}

/// One measurement's rows, as an Arrow stream: pass it to anything that takes the Arrow
/// PyCapsule interface (`pyarrow.RecordBatchReader.from_stream`, `pyarrow.table`,
/// `duckdb.sql("... from scan")`, `polars.DataFrame`, `pandas.DataFrame.from_arrow`,
/// `datafusion.SessionContext.from_arrow`). Each stream reads the shards afresh, so a scan
/// may be read more than once.
#[pyclass(module = "influx_tsm", frozen)]
pub struct Scan {
    spec: ScanSpec,
    schema: SchemaRef,
    /// The reader built when the scan was made (errors raised then), for the first stream.
    first: Mutex<Option<Reader>>,
}

impl Scan {
    pub fn new(py: Python<'_>, spec: ScanSpec) -> PyResult<Scan> {
        require_exists(&spec.dir)?;
        let reader = py.detach(|| spec.open()).map_err(|e| e.into_py(py))?;
        Ok(Scan {
            spec,
            schema: reader.schema(),
            first: Mutex::new(Some(reader)),
        })
    }

    fn reader(&self, py: Python<'_>) -> PyResult<Reader> {
        let first = self
            .first
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match first {
            Some(reader) => Ok(reader),
            None => py.detach(|| self.spec.open()).map_err(|e| e.into_py(py)),
        }
    }
}

#[pymethods]
impl Scan {
    /// The Arrow PyCapsule stream interface. `requested_schema` is ignored: the batches
    /// always have the scan's own schema (the interface lets a producer do so).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let stream = influx_tsm_arrow::ffi::into_stream(self.reader(py)?);
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// The Arrow PyCapsule schema interface: the schema of the batches.
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = FFI_ArrowSchema::try_from(self.schema.as_ref())
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        PyCapsule::new_with_value(py, schema, c"arrow_schema")
    }

    /// The column names, in order.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "influx_tsm.Scan(database={:?}, measurement={:?}, columns={:?})",
            self.spec.database,
            self.spec.measurement,
            self.column_names()
        )
    }
}
