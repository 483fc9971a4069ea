//! A file written whole or not at all: under a hidden temporary name, synced, renamed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, InternalError, IoContext, OutDirError, Result, cannot};

/// The hidden name a file is written under until it is complete.
pub fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.tmp"))
}

/// Whether `name` is one of our temporary names (hidden, ending in `.tmp`).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Creates the folders of `dest` and its temporary file (see [`temp_path`]).
pub fn create_temp(dest: &Path) -> Result<(PathBuf, File)> {
    let parent = dest.parent().ok_or_else(|| {
        Error::Internal(InternalError::NoFolder {
            path: dest.to_path_buf(),
        })
    })?;
    std::fs::create_dir_all(parent).io_context(cannot("create", parent))?;
    let temp = temp_path(dest);
    let file = File::create(&temp).io_context(cannot("create", &temp))?;
    Ok((temp, file))
}

/// Flushes `file` (written as `temp`) to disk and gives it its final name `dest`; returns
/// its size. Refuses to replace an existing file: two names that a case-insensitive file
/// system takes for one must not overwrite each other's data.
pub fn sync_and_rename(file: &File, temp: &Path, dest: &Path) -> Result<u64> {
    file.sync_all().io_context(cannot("sync", temp))?;
    let bytes = file
        .metadata()
        .io_context(cannot("read the size of", temp))?
        .len();
    if dest.try_exists().io_context(cannot("look for", dest))? {
        return Err(Error::OutDir(OutDirError::Collision {
            path: dest.to_path_buf(),
        }));
    }
    std::fs::rename(temp, dest)
        .io_context(|| format!("cannot rename {} to {}", temp.display(), dest.display()))?;
    Ok(bytes)
}

/// Writes `bytes` to `path` whole or not at all: temporary name, fsync, rename, fsync of
/// the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().ok_or_else(|| {
        Error::Internal(InternalError::NoFolder {
            path: path.to_path_buf(),
        })
    })?;
    std::fs::create_dir_all(parent).io_context(cannot("create", parent))?;
    // Of this process: partitions sharing an output may write the same state file at once.
    let temp = temp_path(path).with_extension(format!("{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        sync_dir(parent)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.io_context(cannot("write", path))
}

/// Flushes a folder's entries (new and renamed files) to disk. A no-op where folders
/// cannot be opened as files.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(path)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}
