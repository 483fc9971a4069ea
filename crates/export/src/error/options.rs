//! Options that do not fit together or do not fit the input: the command line reports
//! these as usage errors.

use std::fmt;
use std::path::PathBuf;

/// Why the options were refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum OptionsError {
    /// An input folder (`what`: "data folder", "WAL folder") is not there.
    MissingFolder {
        /// Which folder.
        what: &'static str,
        /// Its path.
        path: PathBuf,
    },
    /// A folder given as the InfluxDB folder has no `data/` and is no backup.
    NoData {
        /// The folder.
        root: PathBuf,
    },
    /// Options that do not go together, or one missing; the text names them.
    Conflicting(&'static str),
    /// A gzip level above 9.
    GzipLevel(u32),
    /// A zstd level outside 1 to 22.
    ZstdLevel(i32),
    /// A `--node` name that is not 1 to 128 of `A-Z a-z 0-9 . _ -`.
    NodeName(String),
    /// A measurement glob that does not parse (`pattern`), or a set of them that does not
    /// build (no pattern).
    BadGlob {
        /// The glob.
        pattern: Option<String>,
        /// The parser's answer.
        reason: String,
    },
    /// The start of the time range is not before its end.
    EmptyRange,
    /// A path that cannot be made absolute (`is_out`: the `--out` folder).
    CannotResolve {
        /// The path.
        path: PathBuf,
        /// Whether it is `--out`.
        is_out: bool,
        /// The operating system's answer.
        reason: String,
    },
    /// `--out` inside the input.
    OutInsideInput {
        /// `--out`.
        out: PathBuf,
        /// The input folder.
        input: PathBuf,
    },
    /// The input inside `--out`.
    InputInsideOut {
        /// The input folder.
        input: PathBuf,
        /// `--out`.
        out: PathBuf,
    },
    /// An `--out` URL that cannot be used: not a URL, another scheme, refused by the
    /// object store.
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::MissingFolder { what, path } => {
                write!(f, "{what} {} does not exist", path.display())
            }
            OptionsError::NoData { root } => write!(
                f,
                "{} has no data/ folder and is no influxd backup (use --data-dir for a data \
                 folder elsewhere)",
                root.display()
            ),
            OptionsError::Conflicting(message) => f.write_str(message),
            OptionsError::GzipLevel(_) => f.write_str("gzip level must be 0 to 9"),
            OptionsError::ZstdLevel(level) => {
                write!(f, "zstd level must be 1 to 22, not {level}")
            }
            OptionsError::NodeName(node) => write!(
                f,
                "--node {node:?}: a node name is 1 to 128 of A-Z a-z 0-9 . _ -"
            ),
            OptionsError::BadGlob {
                pattern: Some(pattern),
                reason,
            } => write!(f, "bad glob {pattern:?}: {reason}"),
            OptionsError::BadGlob {
                pattern: None,
                reason,
            } => f.write_str(reason),
            OptionsError::EmptyRange => f.write_str("--start must be before --end"),
            OptionsError::CannotResolve {
                path,
                is_out: true,
                reason,
            } => write!(f, "cannot resolve --out {}: {reason}", path.display()),
            OptionsError::CannotResolve {
                path,
                is_out: false,
                reason,
            } => write!(f, "cannot resolve {}: {reason}", path.display()),
            OptionsError::OutInsideInput { out, input } => write!(
                f,
                "--out {} is inside the input {}; never writing into the input",
                out.display(),
                input.display()
            ),
            OptionsError::InputInsideOut { input, out } => write!(
                f,
                "the input {} is inside --out {}",
                input.display(),
                out.display()
            ),
            OptionsError::BadUrl { url, reason } => write!(f, "--out {url}: {reason}"),
        }
    }
}
