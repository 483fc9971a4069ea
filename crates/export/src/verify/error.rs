//! Why `verify` could not start: the path is not something it checks, or cannot be read.

use std::fmt;
use std::path::PathBuf;

/// Why the input of `verify` could not be listed. Damage found inside a file is not an
/// error: it is a [`super::Problem`] of the report.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The path is a file, but not a `.tsm`, `.tombstone` or `.wal` file.
    NotStorageFile {
        /// The file.
        path: PathBuf,
    },
    /// Nothing is at the path.
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// A folder (or one of its entries) could not be read.
    List {
        /// The folder.
        dir: PathBuf,
        /// The operating system's answer.
        source: std::io::Error,
    },
    /// An export's state folder without its manifest: the export did not finish, and its
    /// files are not input to check ("0 files, 0 errors" would say all is well).
    UnfinishedExport {
        /// The export's folder.
        path: PathBuf,
    },
    /// A backup whose catalogue, manifest or archive headers are damaged.
    Backup(influx_tsm_backup::Error),
}

impl Error {
    /// Whether the path given is the mistake (a usage error), not the data or the machine.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::NotStorageFile { .. } | Error::Missing { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotStorageFile { path } => write!(
                f,
                "{} is not a .tsm, .tombstone or .wal file",
                path.display()
            ),
            Error::Missing { path } => write!(f, "{} does not exist", path.display()),
            Error::List { dir, .. } => write!(f, "cannot list {}", dir.display()),
            Error::UnfinishedExport { path } => write!(
                f,
                "{} is an export that did not finish (it has no {}): run the same export \
                 again with --resume to finish it, then verify it",
                path.display(),
                crate::manifest::MANIFEST_FILE
            ),
            // Said as the backup's own error, so that the message names the damaged file.
            Error::Backup(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::List { source, .. } => Some(source),
            // Display is the backup error's own text: its causes follow it, not it again.
            Error::Backup(err) => err.source(),
            _ => None,
        }
    }
}
