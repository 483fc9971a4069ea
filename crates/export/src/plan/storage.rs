//! Where the storage files of a folder a user names are: the one answer the command
//! line, the Python package and their `inspect` and `export` all give.

use std::path::{Path, PathBuf};

use influx_tsm_backup::Backup;

/// The data folder (`<db>/<rp>/<shard>/*.tsm`) and WAL folder of an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageDirs {
    /// The data folder, or an `influxd backup` folder (the plan sees it is one).
    pub data: PathBuf,
    /// The WAL folder, when there is one.
    pub wal: Option<PathBuf>,
}

impl StorageDirs {
    /// An InfluxDB root (the folder holding `data/` and, optionally, `wal/`) or an
    /// `influxd backup` folder, as `export` takes it; `wal` overrides `root/wal`. `None`
    /// when `root` is neither.
    pub fn of_root(root: &Path, wal: Option<PathBuf>) -> Option<StorageDirs> {
        let data = root.join("data");
        if data.is_dir() {
            Some(StorageDirs {
                data,
                wal: wal.or_else(|| wal_of(root)),
            })
        } else if Backup::detect(root).is_some() {
            Some(StorageDirs {
                data: root.to_path_buf(),
                wal: wal.or_else(|| wal_of(root)),
            })
        } else {
            None
        }
    }

    /// An InfluxDB root, or else a data folder itself, as `inspect` takes it; `None`
    /// when `dir` is no folder.
    pub fn of_folder(dir: &Path, wal: Option<PathBuf>) -> Option<StorageDirs> {
        let data = dir.join("data");
        if data.is_dir() {
            Some(StorageDirs {
                data,
                wal: wal.or_else(|| wal_of(dir)),
            })
        } else if dir.is_dir() {
            Some(StorageDirs {
                data: dir.to_path_buf(),
                wal,
            })
        } else {
            None
        }
    }
}

/// `root/wal` when it is a folder.
pub fn wal_of(root: &Path) -> Option<PathBuf> {
    let wal = root.join("wal");
    wal.is_dir().then_some(wal)
}
