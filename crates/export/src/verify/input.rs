//! What a path given to `verify` is, and the files it holds.

use std::path::{Path, PathBuf};

use influx_tsm_backup::{Backup, BackupShard};
use serde::Serialize;

use super::Error;
use crate::manifest::MANIFEST_FILE;
use crate::state::STATE_DIR;

/// The kinds of file checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// `*.tsm`
    Tsm,
    /// `*.tombstone`
    Tombstone,
    /// `*.wal`
    Wal,
    /// A shard archive of a backup (its tar headers, and the gzip stream of a portable
    /// one); its members are reported as files of their own.
    Archive,
}

impl FileKind {
    /// The kind of `path`, from its name (never [`FileKind::Archive`]: archives are only
    /// met inside backups).
    pub fn of(path: &Path) -> Option<FileKind> {
        match path.extension()?.to_str()? {
            "tsm" => Some(FileKind::Tsm),
            "tombstone" => Some(FileKind::Tombstone),
            "wal" => Some(FileKind::Wal),
            _ => None,
        }
    }
}

/// What a path given to `verify` is.
#[derive(Debug)]
pub enum Input {
    /// A finished export (it has a `manifest.json`): for
    /// [`crate::manifest::check_export`].
    Export(PathBuf),
    /// An `influxd backup` folder: its shards' archives.
    Backup(Vec<BackupShard>),
    /// Storage files: the one file given, or every one under the folder, sorted.
    Files(Vec<(PathBuf, FileKind)>),
}

impl Input {
    /// Looks at `path`: an export, a backup, or a folder or file of storage files.
    ///
    /// # Errors
    /// An export that did not finish, a damaged backup catalogue, a path that is missing
    /// or of another kind, a folder that cannot be listed.
    pub fn find(path: &Path) -> Result<Input, Error> {
        if path.join(MANIFEST_FILE).is_file() {
            return Ok(Input::Export(path.to_path_buf()));
        }
        if path.join(STATE_DIR).is_dir() {
            return Err(Error::UnfinishedExport {
                path: path.to_path_buf(),
            });
        }
        if path.is_dir() && Backup::detect(path).is_some() {
            let backup = Backup::open(path).map_err(Error::Backup)?;
            return Ok(Input::Backup(backup.shards));
        }
        find_files(path).map(Input::Files)
    }

    /// Bytes to check (for a progress bar's length): files as found on disk now, archives
    /// as listed.
    pub fn bytes(&self) -> u64 {
        match self {
            Input::Export(_) => 0,
            Input::Backup(shards) => shards.iter().map(BackupShard::bytes).sum(),
            Input::Files(files) => files.iter().map(|(path, _)| file_bytes(path)).sum(),
        }
    }
}

/// A file's size, 0 when it is gone (a running influxd removed it; verify says so).
pub(super) fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Every TSM, tombstone and WAL file at or under `path`, sorted.
///
/// # Errors
/// When a folder cannot be listed, or `path` is missing or a file of another kind.
pub fn find_files(path: &Path) -> Result<Vec<(PathBuf, FileKind)>, Error> {
    if path.is_file() {
        let kind = FileKind::of(path).ok_or_else(|| Error::NotStorageFile {
            path: path.to_path_buf(),
        })?;
        return Ok(vec![(path.to_path_buf(), kind)]);
    }
    if !path.is_dir() {
        return Err(Error::Missing {
            path: path.to_path_buf(),
        });
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let list = |source| Error::List {
            dir: dir.clone(),
            source,
        };
        for entry in std::fs::read_dir(&dir).map_err(list)? {
            let entry = entry.map_err(list)?;
            let kind = entry.file_type().map_err(list)?;
            let p = entry.path();
            if kind.is_dir() {
                stack.push(p);
            } else if kind.is_file()
                && let Some(k) = FileKind::of(&p)
            {
                out.push((p, k));
            }
        }
    }
    out.sort();
    Ok(out)
}
