//! The crate's one error type.

use std::fmt;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a [`RowBatch`](influx_tsm_shard::rows::RowBatch) could not become a `RecordBatch`, or a
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
    Tsm(influx_tsm_shard::Error),
    /// No selected shard has the measurement.
    MeasurementNotFound {
        /// The measurement name, lossily decoded.
        measurement: String,
    },
    /// A shard's schema of a measurement has a tag key, or a field key with a stored
    /// type, that the measurement's [`Table`](crate::Table) does not hold.
    NotInTable {
        /// The measurement name, lossily decoded.
        measurement: String,
        /// The tag key or the field and type.
        what: String,
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
            Error::NotInTable { measurement, what } => write!(
                f,
                "measurement {measurement:?} has a {what} that its table does not hold \
                 (the input changed since the table was made)"
            ),
            Error::MeasurementNotFound { measurement } => {
                write!(f, "no selected shard has measurement {measurement:?}")
            }
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

impl From<influx_tsm_shard::Error> for Error {
    fn from(err: influx_tsm_shard::Error) -> Error {
        Error::Tsm(err)
    }
}
