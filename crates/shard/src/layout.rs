//! The directory tree of a copied `/var/lib/influxdb`: databases, retention policies,
//! shards, and each shard's TSM files, tombstones and WAL segments, in the order the
//! engine would use them.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A TSM file of a shard and its tombstone file, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsmFileLocation {
    /// Path of the `.tsm` file.
    pub path: PathBuf,
    /// Generation parsed from the file name; newer data has a larger (generation, sequence).
    pub generation: u64,
    /// Sequence parsed from the file name.
    pub sequence: u64,
    /// Path of the `.tombstone` file with the same stem, when present.
    pub tombstone: Option<PathBuf>,
}

/// Where one shard's files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardLocation {
    /// Database name (the directory name under `data/`).
    pub database: String,
    /// Retention policy name (the directory name under the database).
    pub retention_policy: String,
    /// Shard id (the directory name under the retention policy).
    pub id: u64,
    /// The shard's data directory.
    pub data_dir: PathBuf,
    /// The shard's WAL directory, when it exists.
    pub wal_dir: Option<PathBuf>,
    /// TSM files, oldest first: ascending (generation, sequence).
    pub tsm_files: Vec<TsmFileLocation>,
    /// Non-empty WAL segments in segment-id order.
    pub wal_segments: Vec<PathBuf>,
}

/// Everything found under a data directory (and its WAL directory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Shards in (database, retention policy, shard id) order.
    pub shards: Vec<ShardLocation>,
    /// Entries that look like they belong to the tree but were not used, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Parses a TSM file name `GGGGGGGGG-SSSSSSSSS.tsm` into (generation, sequence).
///
/// Like the engine, it splits the base name at the first `.` and the first `-` and accepts
/// any number of digits.
///
/// ```
/// assert_eq!(influx_tsm_shard::layout::parse_tsm_name("000000012-000000003.tsm"), Some((12, 3)));
/// assert_eq!(influx_tsm_shard::layout::parse_tsm_name("000000012-000000003.tsm.tmp"), None);
/// ```
pub fn parse_tsm_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".tsm")?;
    let (generation, sequence) = stem.split_once('-')?;
    if stem.contains('.') || !all_digits(generation) || !all_digits(sequence) {
        return None;
    }
    Some((generation.parse().ok()?, sequence.parse().ok()?))
}

/// Parses a WAL segment name `_NNNNN.wal` into its id.
///
/// ```
/// assert_eq!(influx_tsm_shard::layout::parse_wal_name("_00012.wal"), Some(12));
/// assert_eq!(influx_tsm_shard::layout::parse_wal_name("_00012.wal.tmp"), None);
/// ```
pub fn parse_wal_name(name: &str) -> Option<u64> {
    let id = name.strip_prefix('_')?.strip_suffix(".wal")?;
    if !all_digits(id) {
        return None;
    }
    id.parse().ok()
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Finds every shard under `data_dir` (`<db>/<rp>/<shard id>/`) and, when given,
/// `wal_dir` (same layout), with their files in the order the engine uses them.
///
/// Skips, and lists in [`Layout::skipped`], what the engine ignores: `_series/` and
/// `index/` folders, `fields.idx`, temporary (`*.tmp`), corrupt-marked (`*.bad`) and
/// unknown files, shard folders whose name is not a number, and plain files where folders
/// belong. Empty WAL segments are skipped silently, as the engine does.
///
/// # Errors
/// When a directory that exists cannot be listed.
pub fn scan(data_dir: &Path, wal_dir: Option<&Path>) -> Result<Layout> {
    let mut layout = Layout::default();
    let mut shards: std::collections::BTreeMap<(String, String, u64), ShardLocation> =
        Default::default();
    for (db, db_path) in subdirs(data_dir, &mut layout.skipped)? {
        for (rp, rp_path) in subdirs(&db_path, &mut layout.skipped)? {
            if rp == "_series" {
                continue;
            }
            for (name, shard_path) in subdirs(&rp_path, &mut layout.skipped)? {
                let Ok(id) = name.parse::<u64>() else {
                    layout.skipped.push((
                        shard_path,
                        "not a shard folder (name is not a number)".into(),
                    ));
                    continue;
                };
                let shard =
                    match new_shard(&db, &rp, id, &shard_path, Vanish::Skip, &mut layout.skipped) {
                        // The shard folder itself went (the server dropped the shard).
                        Err(e) if e.is_vanished() => {
                            layout.skipped.push((shard_path, VANISHED.into()));
                            continue;
                        }
                        other => other?,
                    };
                shards.insert((db.clone(), rp.clone(), id), shard);
            }
        }
    }
    if let Some(wal_dir) = wal_dir {
        for (db, db_path) in subdirs(wal_dir, &mut layout.skipped)? {
            for (rp, rp_path) in subdirs(&db_path, &mut layout.skipped)? {
                for (name, wal_path) in subdirs(&rp_path, &mut layout.skipped)? {
                    let Ok(id) = name.parse::<u64>() else {
                        layout
                            .skipped
                            .push((wal_path, "not a shard WAL folder".into()));
                        continue;
                    };
                    let segments = match wal_segments(&wal_path, Vanish::Skip, &mut layout.skipped)
                    {
                        Err(e) if e.is_vanished() => {
                            layout.skipped.push((wal_path, VANISHED.into()));
                            continue;
                        }
                        other => other?,
                    };
                    let shard = shards
                        .entry((db.clone(), rp.clone(), id))
                        .or_insert_with(|| ShardLocation {
                            database: db.clone(),
                            retention_policy: rp.clone(),
                            id,
                            data_dir: data_dir.join(&db).join(&rp).join(&name),
                            wal_dir: None,
                            tsm_files: Vec::new(),
                            wal_segments: Vec::new(),
                        });
                    shard.wal_dir = Some(wal_path);
                    shard.wal_segments = segments;
                }
            }
        }
    }
    layout.shards = shards.into_values().collect();
    Ok(layout)
}

/// Lists one shard's non-empty WAL segments again, as they are now: the first step of
/// reading one moment of a shard ([`crate::source::ShardFiles::map_live`] says why the
/// WAL comes first). Entries [`scan`] passed over are not listed again.
///
/// # Errors
/// A folder that cannot be listed; an entry (or the folder) that vanished while it was
/// listed is an error for which [`Error::is_vanished`] holds.
pub fn relist_wal(location: &ShardLocation) -> Result<Vec<PathBuf>> {
    match &location.wal_dir {
        Some(dir) => wal_segments(dir, Vanish::Fail, &mut Vec::new()),
        None => Ok(Vec::new()),
    }
}

/// Lists one shard's TSM and tombstone files again, as they are now (its WAL folder
/// kept, its segments left empty): the second step after [`relist_wal`].
///
/// # Errors
/// As [`relist_wal`].
pub fn relist_tsm(location: &ShardLocation) -> Result<ShardLocation> {
    let mut shard = new_shard(
        &location.database,
        &location.retention_policy,
        location.id,
        &location.data_dir,
        Vanish::Fail,
        &mut Vec::new(),
    )?;
    shard.wal_dir = location.wal_dir.clone();
    Ok(shard)
}

/// The (generation, sequence) of every TSM file in the folder `dir`, as it is now.
///
/// # Errors
/// When the folder cannot be listed.
pub fn tsm_names(dir: &Path) -> Result<Vec<(u64, u64)>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::from(e).in_file(dir))? {
        let entry = entry.map_err(|e| Error::from(e).in_file(dir))?;
        if let Some(name) = entry.file_name().to_str().and_then(parse_tsm_name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// Lists the folders in `dir` as (name, path), sorted by name; a missing `dir` is empty.
fn subdirs(dir: &Path, skipped: &mut Vec<(PathBuf, String)>) -> Result<Vec<(String, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::from(e).in_file(dir)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::from(e).in_file(dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            skipped.push((path, "name is not UTF-8".into()));
            continue;
        };
        // Follow symlinks: a copied tree may link shards to other disks.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => out.push((name, path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                skipped.push((path, VANISHED.into()));
            }
            _ => skipped.push((path, "not a folder".into())),
        }
    }
    out.sort();
    Ok(out)
}

/// What a listing does with an entry that vanished between the folder's listing and its
/// own check (a running influxd removed it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Vanish {
    /// Lists it as skipped ([`VANISHED`]) and goes on: the scan of a whole tree.
    Skip,
    /// Fails with the "not found" error ([`Error::is_vanished`]): the listing of one
    /// moment of a shard ([`relist_wal`], [`relist_tsm`]), which is then made again.
    Fail,
}

/// Why a scan passed over an entry that vanished while its folder was listed.
pub const VANISHED: &str = "vanished while its folder was listed (a running influxd replaced \
                            or removed it)";

/// The metadata of `path`: `None` when it vanished (per `vanish`, after recording it).
fn metadata_of(
    path: &Path,
    vanish: Vanish,
    skipped: &mut Vec<(PathBuf, String)>,
) -> Result<Option<std::fs::Metadata>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && vanish == Vanish::Skip => {
            skipped.push((path.to_path_buf(), VANISHED.into()));
            Ok(None)
        }
        Err(e) => Err(Error::from(e).in_file(path)),
    }
}

fn new_shard(
    db: &str,
    rp: &str,
    id: u64,
    shard_path: &Path,
    vanish: Vanish,
    skipped: &mut Vec<(PathBuf, String)>,
) -> Result<ShardLocation> {
    let mut tsm_files = Vec::new();
    let mut tombstones = std::collections::BTreeSet::new();
    let entries = std::fs::read_dir(shard_path).map_err(|e| Error::from(e).in_file(shard_path))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::from(e).in_file(shard_path))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            skipped.push((path, "name is not UTF-8".into()));
            continue;
        };
        if let Some((generation, sequence)) = parse_tsm_name(name) {
            // The folder entry's own type, without a stat, unless it is a link to follow.
            let plain_file = entry.file_type().is_ok_and(|t| t.is_file());
            if plain_file {
                tsm_files.push(TsmFileLocation {
                    path,
                    generation,
                    sequence,
                    tombstone: None,
                });
                continue;
            }
            match metadata_of(&path, vanish, skipped)? {
                Some(meta) if meta.is_file() => tsm_files.push(TsmFileLocation {
                    path,
                    generation,
                    sequence,
                    tombstone: None,
                }),
                Some(_) => skipped.push((path, "a .tsm name that is not a file".into())),
                None => {}
            }
        } else if let Some(stem) = name.strip_suffix(".tombstone") {
            tombstones.insert(stem.to_owned());
        } else if name == "fields.idx" || name == "fields.idxl" || name == "index" {
            // Derived from the TSM keys and the WAL; the data itself is all there.
        } else {
            skipped.push((path, "not a TSM or tombstone file".into()));
        }
    }
    tsm_files.sort_by_key(|f| (f.generation, f.sequence));
    for file in &mut tsm_files {
        let stem = file
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if tombstones.remove(&stem) {
            file.tombstone = Some(shard_path.join(format!("{stem}.tombstone")));
        }
    }
    for stem in tombstones {
        skipped.push((
            shard_path.join(format!("{stem}.tombstone")),
            "tombstone without a TSM file".into(),
        ));
    }
    Ok(ShardLocation {
        database: db.to_owned(),
        retention_policy: rp.to_owned(),
        id,
        data_dir: shard_path.to_path_buf(),
        wal_dir: None,
        tsm_files,
        wal_segments: Vec::new(),
    })
}

fn wal_segments(
    dir: &Path,
    vanish: Vanish,
    skipped: &mut Vec<(PathBuf, String)>,
) -> Result<Vec<PathBuf>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::from(e).in_file(dir))? {
        let entry = entry.map_err(|e| Error::from(e).in_file(dir))?;
        let path = entry.path();
        match entry.file_name().to_str().and_then(parse_wal_name) {
            Some(id) => match metadata_of(&path, vanish, skipped)? {
                Some(meta) if meta.is_file() && meta.len() > 0 => segments.push((id, path)),
                Some(meta) if !meta.is_file() => {
                    skipped.push((path, "a .wal name that is not a file".into()));
                }
                _ => {}
            },
            None => skipped.push((path, "not a WAL segment".into())),
        }
    }
    segments.sort();
    Ok(segments.into_iter().map(|(_, p)| p).collect())
}
