//! The crate's one error type.
//!
//! Each variant's `Display` says only its own part ("cannot write OUT/x.parquet", "shard
//! airq/autogen/3, measurement \"air\""); the cause is its [`std::error::Error::source`].
//! Print the whole chain (anyhow's `{:#}`, or walking `source()`) for a full message.

mod internal;
mod options;
mod out_dir;

use std::fmt;
use std::path::Path;

pub use internal::InternalError;
pub use options::OptionsError;
pub use out_dir::OutDirError;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an export (or its plan) stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Options that do not fit together or do not fit the input: a missing input folder,
    /// an output inside the input, an empty time range, a bad glob. The command line
    /// reports these as usage errors.
    Options(OptionsError),
    /// The output directory cannot be used as asked: not empty without resume or
    /// overwrite, written by something else, or resumed with other options.
    OutDir(OutDirError),
    /// Damaged or unreadable input; the error names the file and byte offset.
    Input(influx_tsm_shard::Error),
    /// The input directory tree could not be listed.
    Scan {
        /// The data directory.
        dir: std::path::PathBuf,
        /// What went wrong.
        source: influx_tsm_shard::Error,
    },
    /// Something went wrong inside one shard (or one of its measurements).
    InShard {
        /// `database/retention policy/id`.
        shard: String,
        /// The measurement (lossy when not UTF-8), when the failure belongs to one.
        measurement: Option<String>,
        /// What went wrong.
        source: Box<Error>,
    },
    /// A file or folder could not be read, written, synced, renamed or deleted.
    Io {
        /// What was being done, with the path.
        what: String,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// The Parquet writer refused.
    Parquet {
        /// The file being written.
        what: String,
        /// The writer's error.
        source: parquet::errors::ParquetError,
    },
    /// A batch could not become Arrow arrays.
    Arrow(influx_tsm_arrow::Error),
    /// A state file of an earlier export (`options.json`, a shard manifest) is not what
    /// this version wrote.
    State {
        /// The file, and what was wrong.
        what: String,
        /// The JSON parser's error.
        source: serde_json::Error,
    },
    /// The object store refused (a missing bucket, refused credentials, a failed
    /// upload).
    #[cfg(feature = "object-store")]
    Remote {
        /// The bucket.
        bucket: String,
        /// What was being done, with the URL.
        what: String,
        /// The store's error.
        source: Box<object_store::Error>,
    },
    /// A bug: a panic while exporting a shard, or an impossible state. Please report it.
    Internal(InternalError),
}

impl Error {
    /// Whether the error is about the options or the output directory (a usage error),
    /// not the data or the machine.
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Options(_) | Error::OutDir(_) => true,
            Error::InShard { source, .. } => source.is_usage(),
            _ => false,
        }
    }

    /// The damaged-input error underneath, if that is what this is.
    pub fn input(&self) -> Option<&influx_tsm_shard::Error> {
        match self {
            Error::Input(err) | Error::Scan { source: err, .. } => Some(err),
            Error::InShard { source, .. } => source.input(),
            _ => None,
        }
    }

    /// Whether a write failed because the reader went away (`influx-tsm ... | head`).
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::BrokenPipe,
            Error::InShard { source, .. } => source.is_broken_pipe(),
            _ => false,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }

    /// This error, as having happened in `shard` (and `measurement`).
    pub(crate) fn in_shard(self, shard: String, measurement: Option<String>) -> Error {
        Error::InShard {
            shard,
            measurement,
            source: Box::new(self),
        }
    }
}

/// `.io_context(|| format!("cannot write {}", path.display()))` on I/O results.
pub(crate) trait IoContext<T> {
    fn io_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::io(what(), source))
    }
}

/// `.parquet_context(path)` on Parquet writer results.
pub(crate) trait ParquetContext<T> {
    fn parquet_context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ParquetContext<T> for std::result::Result<T, parquet::errors::ParquetError> {
    fn parquet_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| match source {
            // The writer wraps the sink's I/O errors; keep them as I/O for the caller.
            parquet::errors::ParquetError::External(inner) => match inner.downcast() {
                Ok(io) => Error::io(what(), *io),
                Err(inner) => Error::Parquet {
                    what: what(),
                    source: parquet::errors::ParquetError::External(inner),
                },
            },
            source => Error::Parquet {
                what: what(),
                source,
            },
        })
    }
}

/// `cannot write PATH`, the usual message of an I/O failure on `path`.
pub(crate) fn cannot(verb: &str, path: &Path) -> impl FnOnce() -> String {
    let message = format!("cannot {verb} {}", path.display());
    move || message
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Options(err) => err.fmt(f),
            Error::OutDir(err) => err.fmt(f),
            Error::Internal(err) => err.fmt(f),
            Error::Input(err) => err.fmt(f),
            Error::Scan { dir, .. } => write!(f, "cannot scan {}", dir.display()),
            Error::InShard {
                shard,
                measurement: None,
                ..
            } => write!(f, "shard {shard}"),
            Error::InShard {
                shard,
                measurement: Some(m),
                ..
            } => write!(f, "shard {shard}, measurement {m:?}"),
            Error::Io { what, .. } | Error::Parquet { what, .. } | Error::State { what, .. } => {
                f.write_str(what)
            }
            #[cfg(feature = "object-store")]
            Error::Remote { bucket, what, .. } => write!(f, "{what} (bucket {bucket:?})"),
            Error::Arrow(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::InShard { source, .. } => Some(source.as_ref()),
            Error::Io { source, .. } => Some(source),
            Error::Parquet { source, .. } => Some(source),
            Error::State { source, .. } => Some(source),
            #[cfg(feature = "object-store")]
            Error::Remote { source, .. } => Some(source.as_ref()),
            Error::Input(err) => err.source(),
            Error::Scan { source, .. } => Some(source),
            Error::Arrow(err) => err.source(),
            Error::Options(_) | Error::OutDir(_) | Error::Internal(_) => None,
        }
    }
}

impl From<OptionsError> for Error {
    fn from(err: OptionsError) -> Error {
        Error::Options(err)
    }
}

impl From<OutDirError> for Error {
    fn from(err: OutDirError) -> Error {
        Error::OutDir(err)
    }
}

impl From<InternalError> for Error {
    fn from(err: InternalError) -> Error {
        Error::Internal(err)
    }
}

impl From<influx_tsm_shard::Error> for Error {
    fn from(err: influx_tsm_shard::Error) -> Error {
        Error::Input(err)
    }
}

impl From<influx_tsm_arrow::Error> for Error {
    fn from(err: influx_tsm_arrow::Error) -> Error {
        Error::Arrow(err)
    }
}
