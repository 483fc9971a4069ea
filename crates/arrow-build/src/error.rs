//! The crate's one error type.

use std::fmt;

use tsm::FieldType;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a [`RowBatch`](tsm::rows::RowBatch) could not become a `RecordBatch`, or a
/// reader could not be built.
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
    /// Reading the storage files failed (listing, opening, decoding); the error names
    /// the file and offset.
    Tsm(tsm::Error),
    /// No selected shard has the measurement.
    MeasurementNotFound {
        /// The measurement name, lossily decoded.
        measurement: String,
    },
    /// A field has one type in one selected shard and another in another, so it has no
    /// one Arrow type.
    FieldTypeConflict {
        /// The measurement name, lossily decoded.
        measurement: String,
        /// The field key, lossily decoded.
        field: String,
        /// The shard id and type where the field was first seen, in read order.
        first: (u64, FieldType),
        /// A later shard id where the field has another type, and that type.
        second: (u64, FieldType),
    },
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
            Error::Tsm(err) => write!(f, "{err}"),
            Error::MeasurementNotFound { measurement } => {
                write!(f, "no selected shard has measurement {measurement:?}")
            }
            Error::FieldTypeConflict {
                measurement,
                field,
                first,
                second,
            } => write!(
                f,
                "measurement {measurement:?}: field {field:?} is {} in shard {} but {} in shard {}",
                first.1, first.0, second.1, second.0
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Arrow(err) => Some(err),
            Error::Tsm(err) => Some(err),
            _ => None,
        }
    }
}

impl From<arrow_schema::ArrowError> for Error {
    fn from(err: arrow_schema::ArrowError) -> Error {
        Error::Arrow(err)
    }
}

impl From<tsm::Error> for Error {
    fn from(err: tsm::Error) -> Error {
        Error::Tsm(err)
    }
}
