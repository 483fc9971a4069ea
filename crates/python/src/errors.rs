//! The library's errors as the Python exceptions the package documents: a bad option is
//! `ValueError`, a missing path `FileNotFoundError`, damaged data `CorruptDataError`
//! (a `ValueError`, as `json.JSONDecodeError` is, with `.file` and `.offset`), other I/O
//! `OSError`, anything else `RuntimeError`.

use std::path::Path;

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    _native,
    CorruptDataError,
    PyValueError,
    "Damaged input: `.file` is the damaged file (or archive member), `.offset` the byte offset in it (either may be None when unknown)."
);

/// The whole cause chain, as the command line prints it.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `FileNotFoundError` for `path` unless it exists.
pub fn require_exists(path: &Path) -> PyResult<()> {
    if path.exists() {
        Ok(())
    } else {
        Err(PyFileNotFoundError::new_err((
            2,
            "No such file or directory",
            path.display().to_string(),
        )))
    }
}

/// A storage error: damage as [`CorruptDataError`], I/O as `OSError`.
pub fn shard_error(py: Python<'_>, err: &influx_tsm_shard::Error, text: String) -> PyErr {
    if !err.is_corruption() {
        return match err.kind() {
            influx_tsm_shard::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                PyFileNotFoundError::new_err(text)
            }
            _ => PyOSError::new_err(text),
        };
    }
    let exception = CorruptDataError::new_err(text);
    let value = exception.value(py);
    let file = err.path().map(|p| p.display().to_string());
    // Setting attributes on a fresh exception object cannot fail but for memory.
    if value.setattr("file", file).is_err() || value.setattr("offset", err.offset()).is_err() {
        return PyRuntimeError::new_err("cannot build CorruptDataError");
    }
    exception
}

/// An error of the readers (`scan`).
pub fn arrow_error(py: Python<'_>, err: influx_tsm_arrow::Error) -> PyErr {
    let text = chain(&err);
    match &err {
        influx_tsm_arrow::Error::Tsm(inner) => shard_error(py, inner, text),
        influx_tsm_arrow::Error::MeasurementNotFound { .. } => PyValueError::new_err(text),
        _ => PyRuntimeError::new_err(text),
    }
}

/// An error of the export engine (`export`, `inspect`).
pub fn export_error(py: Python<'_>, err: influx_tsm_export::Error) -> PyErr {
    let text = chain(&err);
    if err.is_usage() {
        return PyValueError::new_err(text);
    }
    if let Some(inner) = err.input() {
        return shard_error(py, inner, text);
    }
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>().is_some() {
            return PyOSError::new_err(text);
        }
        source = e.source();
    }
    PyRuntimeError::new_err(text)
}
