//! Bugs: a panic while exporting a shard, or a state the code never means to reach.
//! Please report them.

use std::fmt;
use std::path::PathBuf;

/// What went wrong inside.
#[derive(Debug)]
#[non_exhaustive]
pub enum InternalError {
    /// A panic while exporting a shard (`db/rp/id`), with its message when it had one.
    Panic {
        /// The shard.
        shard: String,
        /// The panic's message, when the panic was caught with one.
        message: Option<String>,
    },
    /// A state that cannot happen, or a setting the writer does not implement.
    Impossible(&'static str),
    /// A part of a file joined from parts was never finished.
    PartMissing {
        /// The joined file.
        dest: PathBuf,
        /// The first part missing.
        part: usize,
        /// Parts in all.
        parts: usize,
    },
    /// A part's Parquet schema is not the joined file's.
    PartSchema {
        /// The part.
        part: PathBuf,
    },
    /// A file path without a folder.
    NoFolder {
        /// The path.
        path: PathBuf,
    },
    /// A relative path that cannot be an object key.
    ObjectKey {
        /// The path.
        relative: String,
        /// The bucket's URL.
        url: String,
        /// Why not.
        reason: String,
    },
    /// Compressing in memory failed (`what`: "the DDL", "in memory").
    Compress {
        /// What was compressed.
        what: &'static str,
        /// The compressor's answer.
        reason: String,
    },
    /// A record could not become JSON.
    Json(String),
}

impl fmt::Display for InternalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InternalError::Panic {
                shard,
                message: Some(message),
            } => write!(
                f,
                "internal error while exporting shard {shard}: {message} (please report this bug)"
            ),
            InternalError::Panic {
                shard,
                message: None,
            } => write!(
                f,
                "internal error while exporting shard {shard} (please report this bug)"
            ),
            InternalError::Impossible(what) => f.write_str(what),
            InternalError::PartMissing { dest, part, parts } => write!(
                f,
                "{}: part {part} of {parts} was never finished",
                dest.display()
            ),
            InternalError::PartSchema { part } => write!(
                f,
                "{} has another Parquet schema than the file it is a part of",
                part.display()
            ),
            InternalError::NoFolder { path } => write!(f, "{} has no folder", path.display()),
            InternalError::ObjectKey {
                relative,
                url,
                reason,
            } => write!(
                f,
                "{relative:?} cannot be an object key under {url}: {reason}"
            ),
            InternalError::Compress { what, reason } => {
                write!(f, "cannot compress {what}: {reason}")
            }
            InternalError::Json(reason) => write!(f, "cannot serialise JSON: {reason}"),
        }
    }
}
