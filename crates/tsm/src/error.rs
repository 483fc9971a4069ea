//! The crate's one error type.
//!
//! Every error can carry the file it came from, the absolute byte offset inside that file
//! and the composite key being decoded. Decoders working on a sub-slice report offsets
//! relative to that slice; the layer that knows where the slice sits in the file rebases
//! them with [`Error::rebase`], so the message a user sees always points into the file.

use std::fmt;
use std::path::{Path, PathBuf};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error while reading InfluxDB storage files.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    path: Option<PathBuf>,
    offset: Option<u64>,
    key: Option<Vec<u8>>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operating system refused a read, open or map.
    Io(std::io::Error),
    /// The data ends before a field that must be there.
    Truncated {
        /// Bytes the field needs.
        needed: u64,
        /// Bytes left at that offset.
        available: u64,
    },
    /// A TSM file does not start with `0x16D116D1`.
    BadMagic {
        /// The four bytes found, big-endian.
        found: u32,
    },
    /// A TSM file has a version other than 1.
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
    },
    /// A stored CRC-32 does not match the block bytes.
    ChecksumMismatch {
        /// The CRC stored before the block.
        stored: u32,
        /// The CRC of the bytes as read.
        computed: u32,
    },
    /// A block or WAL value type byte is not one InfluxDB writes.
    UnknownType {
        /// The type byte found.
        found: u8,
    },
    /// An encoding header byte that no InfluxDB version writes.
    UnknownEncoding {
        /// Which stream: `"timestamp"`, `"float"`, ...
        stream: &'static str,
        /// The header byte found.
        header: u8,
    },
    /// A block holds a different number of timestamps and values.
    CountMismatch {
        /// Timestamps decoded.
        timestamps: usize,
        /// Values decoded.
        values: usize,
    },
    /// A size or count read from a file is larger than the configured limit.
    LimitExceeded {
        /// What was being sized.
        what: &'static str,
        /// The size the file claims.
        claimed: u64,
        /// The limit in force.
        limit: u64,
    },
    /// The bytes break a rule of the format; the text says which.
    Corrupt(String),
}

impl Error {
    /// Creates an error of `kind` with no location yet.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner {
            kind,
            path: None,
            offset: None,
            key: None,
        }))
    }

    /// A [`ErrorKind::Corrupt`] error at `offset`.
    pub fn corrupt(offset: u64, what: impl Into<String>) -> Error {
        Error::new(ErrorKind::Corrupt(what.into())).at(offset)
    }

    /// A [`ErrorKind::Truncated`] error at `offset`.
    pub fn truncated(offset: u64, needed: u64, available: u64) -> Error {
        Error::new(ErrorKind::Truncated { needed, available }).at(offset)
    }

    /// A [`ErrorKind::LimitExceeded`] error at `offset`.
    pub fn limit(offset: u64, what: &'static str, claimed: u64, limit: u64) -> Error {
        Error::new(ErrorKind::LimitExceeded {
            what,
            claimed,
            limit,
        })
        .at(offset)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The file the error is about, when known.
    pub fn path(&self) -> Option<&Path> {
        self.0.path.as_deref()
    }

    /// The absolute byte offset in [`Error::path`], when known.
    pub fn offset(&self) -> Option<u64> {
        self.0.offset
    }

    /// The composite key being decoded, when known.
    pub fn key(&self) -> Option<&[u8]> {
        self.0.key.as_deref()
    }

    /// Sets the offset (relative to whatever slice the caller decoded).
    pub fn at(mut self, offset: u64) -> Error {
        self.0.offset = Some(offset);
        self
    }

    /// Moves a slice-relative offset to an absolute one: adds `base`, or sets it when the
    /// error had no offset.
    pub fn rebase(mut self, base: u64) -> Error {
        self.0.offset = Some(base.saturating_add(self.0.offset.unwrap_or(0)));
        self
    }

    /// Names the file, unless a more precise path was already set.
    pub fn in_file(mut self, path: &Path) -> Error {
        if self.0.path.is_none() {
            self.0.path = Some(path.to_path_buf());
        }
        self
    }

    /// Names the composite key, unless one was already set.
    pub fn for_key(mut self, key: &[u8]) -> Error {
        if self.0.key.is_none() {
            self.0.key = Some(key.to_vec());
        }
        self
    }

    /// Whether the error says the bytes are damaged (as opposed to I/O or a usage problem).
    pub fn is_corruption(&self) -> bool {
        !matches!(self.0.kind, ErrorKind::Io(_))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        Error::new(ErrorKind::Io(err))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io(err) => write!(f, "{err}"),
            ErrorKind::Truncated { needed, available } => {
                write!(f, "truncated: needed {needed} bytes, {available} left")
            }
            ErrorKind::BadMagic { found } => {
                write!(
                    f,
                    "not a TSM file: magic {found:#010x}, expected 0x16d116d1"
                )
            }
            ErrorKind::UnsupportedVersion { found } => {
                write!(f, "unsupported TSM version {found}, expected 1")
            }
            ErrorKind::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "block checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            ErrorKind::UnknownType { found } => write!(f, "unknown value type {found}"),
            ErrorKind::UnknownEncoding { stream, header } => {
                write!(f, "unknown {stream} encoding (header byte {header:#04x})")
            }
            ErrorKind::CountMismatch { timestamps, values } => {
                write!(f, "block has {timestamps} timestamps but {values} values")
            }
            ErrorKind::LimitExceeded {
                what,
                claimed,
                limit,
            } => {
                write!(f, "{what} of {claimed} exceeds the limit of {limit}")
            }
            ErrorKind::Corrupt(what) => write!(f, "corrupt: {what}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.0.path {
            write!(f, "{}", path.display())?;
            if let Some(offset) = self.0.offset {
                write!(f, " at byte {offset}")?;
            }
            write!(f, ": ")?;
        } else if let Some(offset) = self.0.offset {
            write!(f, "at byte {offset}: ")?;
        }
        write!(f, "{}", self.0.kind)?;
        if let Some(key) = &self.0.key {
            write!(f, " (key {:?})", String::from_utf8_lossy(key))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("path", &self.0.path)
            .field("offset", &self.0.offset)
            .field("key", &self.0.key.as_deref().map(String::from_utf8_lossy))
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ErrorKind::Io(err) => Some(err),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_offset_and_key() {
        let err = Error::truncated(10, 8, 3)
            .rebase(100)
            .for_key(b"cpu#!~#v")
            .in_file(Path::new("/d/1.tsm"));
        assert_eq!(err.offset(), Some(110));
        assert_eq!(
            err.to_string(),
            "/d/1.tsm at byte 110: truncated: needed 8 bytes, 3 left (key \"cpu#!~#v\")"
        );
    }
}
