//! The result of `verify`, as data: serialised, it is the `verify --json` output.

use std::fmt;
use std::path::{Path, PathBuf};

use influx_tsm_shard::verify::{self as checks, Finding};
use serde::Serialize;

use super::FileKind;

/// How serious a [`Problem`] is; serialised as `error` or `warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Damage: data is lost or wrong.
    Error,
    /// influxd itself tolerates it, or a file vanished while verify ran; not a failure.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// How serious it is.
    pub severity: Severity,
    /// The file.
    pub path: PathBuf,
    /// Byte offset in the file, when known.
    pub offset: Option<u64>,
    /// The composite key, when known (lossy).
    pub key: Option<String>,
    /// The whole message, naming file and offset.
    pub message: String,
}

/// One file's result.
#[derive(Debug, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its kind.
    pub kind: FileKind,
    /// Its size.
    pub bytes: u64,
    /// Keys, records or entries read; an archive's members.
    pub items: u64,
    /// TSM blocks checked.
    pub blocks: u64,
    /// Values counted.
    pub values: u64,
    /// Its problems.
    pub problems: Vec<Problem>,
}

impl FileReport {
    /// `path`'s result from the checks' report, each finding named with the file.
    pub(super) fn new(path: &Path, kind: FileKind, bytes: u64, report: checks::Report) -> Self {
        FileReport {
            path: path.to_path_buf(),
            kind,
            bytes,
            items: report.items,
            blocks: report.blocks,
            values: report.values,
            problems: report
                .findings
                .into_iter()
                .map(|finding| Problem::new(path, finding))
                .collect(),
        }
    }

    /// Whether any problem is an error (the file is damaged).
    pub fn is_damaged(&self) -> bool {
        self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

impl Problem {
    fn new(path: &Path, finding: Finding) -> Problem {
        let error = finding.error.in_file(path);
        Problem {
            severity: match finding.severity {
                checks::Severity::Error => Severity::Error,
                checks::Severity::Warning => Severity::Warning,
            },
            path: path.to_path_buf(),
            offset: error.offset(),
            key: error.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            message: error.to_string(),
        }
    }
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    /// Files checked, in path order (an archive before its members).
    pub files: Vec<FileReport>,
    /// Problems that are errors.
    pub errors: usize,
    /// Problems that are warnings.
    pub warnings: usize,
}

impl VerifyReport {
    /// The files' results, with the problems counted.
    pub fn new(files: Vec<FileReport>) -> VerifyReport {
        let count = |severity| {
            files
                .iter()
                .flat_map(|f| &f.problems)
                .filter(|p| p.severity == severity)
                .count()
        };
        VerifyReport {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            files,
        }
    }

    /// Files of `kind` checked.
    pub fn count(&self, kind: FileKind) -> usize {
        self.files.iter().filter(|f| f.kind == kind).count()
    }

    /// TSM blocks checked in all files.
    pub fn blocks(&self) -> u64 {
        self.files.iter().map(|f| f.blocks).sum()
    }
}
