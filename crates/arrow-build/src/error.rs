//! The crate's one error type.

use std::fmt;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a [`RowBatch`](tsm::rows::RowBatch) could not become a `RecordBatch`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The row batch does not have the shape its [`Columns`](crate::Columns) describe:
    /// a column count, a length or a type differs. This is a bug of whoever built the batch.
    Shape(String),
    /// A string column holds more bytes than Arrow's 32-bit offsets can address in one
    /// batch; make the batches smaller.
    StringsTooLong {
        /// The column's original key, lossily decoded.
        column: String,
        /// The bytes the batch holds for it.
        bytes: usize,
    },
    /// Arrow refused the arrays.
    Arrow(arrow_schema::ArrowError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape(what) => write!(f, "row batch does not match its schema: {what}"),
            Error::StringsTooLong { column, bytes } => write!(
                f,
                "column {column:?} holds {bytes} bytes of strings in one batch, more than 2 GiB"
            ),
            Error::Arrow(err) => write!(f, "arrow: {err}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Arrow(err) => Some(err),
            _ => None,
        }
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(err: arrow_schema::ArrowError) -> Error {
        Error::Arrow(err)
    }
}
