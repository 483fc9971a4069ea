//! The library's reports (serde) as Python data: the JSON the command line prints with
//! `--json`, read by Python's `json` module, so both are the same by construction.

use pyo3::prelude::*;

/// `value` as Python dicts, lists, strings, numbers, booleans and None.
pub fn to_python(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}
