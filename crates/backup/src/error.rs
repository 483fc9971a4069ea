//! The crate's error: a damaged tar archive, a backup's listing that is wrong, or what the
//! shard crates report of the files and bytes inside (I/O, limits, a damaged catalogue).
//!
//! Like [`influx_tsm_shard::Error`] it names the file and the byte offset (in the tar
//! stream, decompressed, for archive damage), and its text is the one that error would
//! give: `<file> at byte <offset>: corrupt: <what>`. Callers that keep one error type
//! for every input convert it with `From` into [`influx_tsm_shard::Error`], whose kind is
//! then [`influx_tsm_shard::ErrorKind::Container`] holding the [`TarFault`] or
//! [`ManifestFault`].

use std::fmt;
use std::path::{Path, PathBuf};

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error while reading a backup.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    path: Option<PathBuf>,
    offset: Option<u64>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// What the shard and format crates report: I/O, a claim over a limit, bytes cut
    /// short, a damaged catalogue; that error carries its own file and offset.
    Shard(influx_tsm_shard::Error),
    /// The tar layout of an archive is broken.
    Tar(TarFault),
    /// The backup's listing (manifest, catalogue files, archive names) is missing or
    /// contradicts the archives.
    Manifest(ManifestFault),
}

/// What is wrong with a tar archive ([`ErrorKind::Tar`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TarFault {
    /// The input ends where a header must be: no end-of-archive blocks.
    NoEndBlocks,
    /// Non-zero bytes right after the first end-of-archive block.
    DataAfterEnd,
    /// A size whose padding to whole blocks overflows 64 bits.
    SizeOverflows {
        /// `"member"` (the header's) or `"PAX"` (a PAX record's).
        what: &'static str,
    },
    /// The input ends inside a member or a record.
    CutShort {
        /// Bytes that were to be read there.
        expected: u64,
    },
    /// The input ends inside a 512-byte block.
    PartialBlock {
        /// Bytes of the block that are there.
        len: u64,
    },
    /// The decompressor refused the stream (bad gzip data or checksum, cut short); the
    /// text is the decompressor's.
    Compressed(String),
    /// A numeric header field that is not a number.
    NotANumber {
        /// `"header checksum"` or `"member size"`.
        field: &'static str,
    },
    /// A header whose checksum does not match its bytes.
    ChecksumMismatch {
        /// The checksum stored.
        stored: u64,
        /// The (unsigned) sum of the header's bytes.
        computed: u64,
    },
    /// A PAX record that breaks `"<length> <key>=<value>\n"`.
    BadPaxRecord {
        /// What is wrong: `"no length"`, `"no '='"`, ...
        what: &'static str,
    },
}

/// What is wrong with a backup's listing ([`ErrorKind::Manifest`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ManifestFault {
    /// Neither a `*.manifest` (portable) nor a `meta.NN` (legacy) file in the folder.
    NotABackup,
    /// A portable backup without any manifest that names its catalogue.
    NoManifest,
    /// A legacy backup without a `meta.NN` file.
    NoMetaFile,
    /// A manifest that is not the JSON influxd writes; the text is the parser's.
    Unparsable(String),
    /// A manifest naming something other than a plain file name in the folder.
    NotAFileName {
        /// The name.
        name: String,
    },
    /// An archive holding another shard than the one it is listed as.
    OtherShard {
        /// The shard the archive holds, `db/rp/id`.
        found: String,
        /// The shard it is listed as, `db/rp/id`.
        listed: String,
    },
    /// An archive member of another shard than the archive's first member.
    MemberOfOtherShard {
        /// The member's path, `db/rp/id/file`.
        member: String,
        /// The shard of the archive's first member, `db/rp/id`.
        shard: String,
    },
}

impl Error {
    /// Creates an error of `kind` with no location yet.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner {
            kind,
            path: None,
            offset: None,
        }))
    }

    /// A [`ErrorKind::Tar`] error at `offset` in the tar stream.
    pub fn tar(offset: u64, fault: TarFault) -> Error {
        Error::new(ErrorKind::Tar(fault)).at(offset)
    }

    /// A [`ErrorKind::Manifest`] error, located at byte 0 of the file it names.
    pub fn manifest(fault: ManifestFault) -> Error {
        Error::new(ErrorKind::Manifest(fault)).at(0)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The file the error is about, when known.
    pub fn path(&self) -> Option<&Path> {
        match &self.0.kind {
            ErrorKind::Shard(err) => err.path(),
            _ => self.0.path.as_deref(),
        }
    }

    /// The byte offset in [`Error::path`], when known.
    pub fn offset(&self) -> Option<u64> {
        match &self.0.kind {
            ErrorKind::Shard(err) => err.offset(),
            _ => self.0.offset,
        }
    }

    /// Sets the offset.
    pub fn at(self, offset: u64) -> Error {
        let mut inner = *self.0;
        inner.kind = match inner.kind {
            ErrorKind::Shard(err) => ErrorKind::Shard(err.at(offset)),
            other => {
                inner.offset = Some(offset);
                other
            }
        };
        Error(Box::new(inner))
    }

    /// Names the file, unless a more precise path was already set.
    pub fn in_file(self, path: &Path) -> Error {
        let mut inner = *self.0;
        inner.kind = match inner.kind {
            ErrorKind::Shard(err) => ErrorKind::Shard(err.in_file(path)),
            other => {
                if inner.path.is_none() {
                    inner.path = Some(path.to_path_buf());
                }
                other
            }
        };
        Error(Box::new(inner))
    }

    /// Whether the error says the bytes are damaged (as opposed to I/O).
    pub fn is_corruption(&self) -> bool {
        match &self.0.kind {
            ErrorKind::Shard(err) => err.is_corruption(),
            _ => true,
        }
    }
}

impl fmt::Display for TarFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TarFault::NoEndBlocks => write!(
                f,
                "archive ends without its end-of-archive blocks (cut short?)"
            ),
            TarFault::DataAfterEnd => write!(f, "data after the end-of-archive block"),
            TarFault::SizeOverflows { what } => write!(f, "{what} size overflows"),
            TarFault::CutShort { expected } => {
                write!(f, "archive cut short: {expected} more bytes expected")
            }
            TarFault::PartialBlock { len } => {
                write!(
                    f,
                    "archive cut short: a {len}-byte piece of a 512-byte block"
                )
            }
            TarFault::Compressed(message) => write!(f, "compressed stream: {message}"),
            TarFault::NotANumber { field } => write!(f, "tar {field} is not a number"),
            TarFault::ChecksumMismatch { stored, computed } => write!(
                f,
                "tar header checksum {stored:o} (octal) but the header sums to {computed:o}"
            ),
            TarFault::BadPaxRecord { what } => write!(f, "malformed PAX record: {what}"),
        }
    }
}

impl fmt::Display for ManifestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestFault::NotABackup => write!(
                f,
                "not an influxd backup: no *.manifest (portable) or meta.NN (legacy) file"
            ),
            ManifestFault::NoManifest => write!(f, "no manifest"),
            ManifestFault::NoMetaFile => write!(f, "no meta.NN file"),
            ManifestFault::Unparsable(message) => write!(f, "manifest does not parse: {message}"),
            ManifestFault::NotAFileName { name } => write!(
                f,
                "manifest names {name:?}, which is not a file name in the backup folder"
            ),
            ManifestFault::OtherShard { found, listed } => {
                write!(f, "archive holds shard {found}, listed as {listed}")
            }
            ManifestFault::MemberOfOtherShard { member, shard } => {
                write!(f, "member {member} is of another shard than {shard}")
            }
        }
    }
}

impl std::error::Error for TarFault {}
impl std::error::Error for ManifestFault {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fault: &dyn fmt::Display = match &self.0.kind {
            ErrorKind::Shard(err) => return write!(f, "{err}"),
            ErrorKind::Tar(fault) => fault,
            ErrorKind::Manifest(fault) => fault,
        };
        // The layout of `influx_tsm_shard::Error`'s text, which these errors had before
        // the crate had an error of its own.
        if let Some(path) = &self.0.path {
            write!(f, "{}", path.display())?;
            if let Some(offset) = self.0.offset {
                write!(f, " at byte {offset}")?;
            }
            write!(f, ": ")?;
        } else if let Some(offset) = self.0.offset {
            write!(f, "at byte {offset}: ")?;
        }
        write!(f, "corrupt: {fault}")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("path", &self.0.path)
            .field("offset", &self.0.offset)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.kind {
            ErrorKind::Shard(err) => Some(err),
            _ => None,
        }
    }
}

impl From<influx_tsm_shard::Error> for Error {
    fn from(err: influx_tsm_shard::Error) -> Error {
        Error::new(ErrorKind::Shard(err))
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Error {
        Error::from(influx_tsm_shard::Error::from(err))
    }
}

/// For callers that keep one error type for every input: the same file, offset and text.
impl From<Error> for influx_tsm_shard::Error {
    fn from(err: Error) -> influx_tsm_shard::Error {
        let Inner { kind, path, offset } = *err.0;
        let fault: Box<dyn std::error::Error + Send + Sync> = match kind {
            ErrorKind::Shard(err) => return err,
            ErrorKind::Tar(fault) => Box::new(fault),
            ErrorKind::Manifest(fault) => Box::new(fault),
        };
        let mut out = influx_tsm_shard::Error::new(influx_tsm_shard::ErrorKind::Container(fault));
        if let Some(offset) = offset {
            out = out.at(offset);
        }
        if let Some(path) = path {
            out = out.in_file(&path);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_the_shard_errors_and_survives_conversion() {
        let err = Error::tar(1024, TarFault::DataAfterEnd).in_file(Path::new("/b/x.tar"));
        let text = "/b/x.tar at byte 1024: corrupt: data after the end-of-archive block";
        assert_eq!(err.to_string(), text);
        assert_eq!(
            (err.path(), err.offset()),
            (Some(Path::new("/b/x.tar")), Some(1024))
        );
        let shard = influx_tsm_shard::Error::from(err);
        assert_eq!(shard.to_string(), text);
        assert_eq!(shard.offset(), Some(1024));
        let influx_tsm_shard::ErrorKind::Container(fault) = shard.kind() else {
            panic!("{:?}", shard.kind());
        };
        assert_eq!(
            fault.downcast_ref::<TarFault>(),
            Some(&TarFault::DataAfterEnd)
        );
        let err = Error::manifest(ManifestFault::NoManifest).in_file(Path::new("/b"));
        assert_eq!(err.to_string(), "/b at byte 0: corrupt: no manifest");
    }

    #[test]
    fn shard_errors_keep_their_own_location() {
        let err = Error::from(influx_tsm_shard::Error::truncated(7, 8, 1))
            .in_file(Path::new("/b/x.tar"))
            .in_file(Path::new("/other"));
        assert_eq!(err.offset(), Some(7));
        assert_eq!(
            err.to_string(),
            "/b/x.tar at byte 7: truncated: needed 8 bytes, 1 left"
        );
        assert!(matches!(err.kind(), ErrorKind::Shard(_)));
    }
}
