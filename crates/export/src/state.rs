//! The output directory's own state, for `--resume` and `--overwrite`.
//!
//! ```text
//! OUT/.influx-tsm/options.json                  the options that decide the contents
//! OUT/.influx-tsm/tables.json                   each measurement's one schema (Parquet)
//! OUT/.influx-tsm/done/<db>/<rp>/<shard>.json   one manifest per finished shard
//! ```
//!
//! `tables.json` is written before the first shard starts; a resumed export reads it
//! instead of making the tables again, so its files have the schemas of the first run's.
//!
//! `options.json` is written before any Parquet file. A shard's manifest is written (whole,
//! by rename) only after every file of the shard has been renamed into place and the
//! folders synced, so a manifest means the shard is finished. `--resume` checks that the
//! options are the same, deletes stale temporary files, keeps the shards with a manifest,
//! deletes whatever files the unfinished shards had left, and exports those again: the
//! result has the same files as an uninterrupted run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tsm::layout::ShardLocation;

use crate::error::{Error, IoContext, Result, cannot};
use crate::naming;
use crate::options::{Options, OutMode};
use crate::output::{is_temp_name, write_atomic};
use crate::remote::Remote;

/// The state folder inside the output directory.
pub const STATE_DIR: &str = ".influx-tsm";
const OPTIONS_FILE: &str = "options.json";
const DONE_DIR: &str = "done";
const TABLES_FILE: &str = "tables.json";

/// One Parquet file written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileRecord {
    /// The measurement (lossy when not UTF-8).
    pub measurement: String,
    /// The path relative to the output directory, `/`-separated.
    pub path: String,
    /// Rows written.
    pub rows: u64,
    /// Non-null field values written.
    pub values: u64,
    /// File size.
    pub bytes: u64,
    /// The earliest timestamp in the file, nanoseconds since the epoch.
    #[serde(default)]
    pub min_time: Option<i64>,
    /// The latest timestamp in the file.
    #[serde(default)]
    pub max_time: Option<i64>,
}

/// Data left out: under `--skip-corrupt`, or as a warning.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SkipRecord {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The shard id.
    pub shard: u64,
    /// The measurement, when only it was skipped (else the whole shard).
    pub measurement: Option<String>,
    /// The damaged file, when known.
    pub path: Option<PathBuf>,
    /// The byte offset in it, when known.
    pub offset: Option<u64>,
    /// The whole message.
    pub error: String,
    /// Only one damaged block of `measurement` was left out; the rest of it was exported.
    #[serde(default)]
    pub block: bool,
}

impl SkipRecord {
    /// A record of `error` in `shard` (and `measurement`, when only it is affected).
    pub fn new(shard: &ShardLocation, measurement: Option<String>, error: &tsm::Error) -> Self {
        SkipRecord {
            database: shard.database.clone(),
            retention_policy: shard.retention_policy.clone(),
            shard: shard.id,
            measurement,
            path: error.path().map(Path::to_path_buf),
            offset: error.offset(),
            error: error.to_string(),
            block: false,
        }
    }

    /// A record of one damaged block of `measurement`, left out while the rest of the
    /// measurement was exported.
    pub fn block(shard: &ShardLocation, measurement: String, error: &tsm::Error) -> Self {
        SkipRecord {
            block: true,
            ..SkipRecord::new(shard, Some(measurement), error)
        }
    }
}

/// A field's type in an exported measurement of a shard, for finding type conflicts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FieldRecord {
    /// The measurement (lossy).
    pub measurement: String,
    /// The field key (lossy).
    pub field: String,
    /// `float`, `integer`, `unsigned`, `string` or `boolean`.
    #[serde(rename = "type")]
    pub field_type: String,
}

/// What one shard's export produced; written as its completion marker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The shard id.
    pub shard: u64,
    /// Bytes of the shard's input files.
    pub bytes_in: u64,
    /// Files written.
    pub files: Vec<FileRecord>,
    /// Field types of the exported measurements.
    pub fields: Vec<FieldRecord>,
    /// Data left out under `--skip-corrupt` (the exit status becomes 2).
    pub skipped: Vec<SkipRecord>,
    /// Data left out as InfluxDB itself leaves it out (a torn WAL tail, values of a
    /// type the field no longer has in the shard): reported, not an error.
    #[serde(default)]
    pub warnings: Vec<SkipRecord>,
    /// String field values whose bytes were not UTF-8, replaced lossily.
    pub replaced_field_values: u64,
    /// Tag cells whose bytes were not UTF-8, replaced lossily.
    pub replaced_tag_values: u64,
    /// Field values cast to their column's type (`--type-conflicts float` or `string`).
    #[serde(default)]
    pub cast_values: u64,
    /// Field values no value of their column's type equals (an integer beyond 2^53 under
    /// `--type-conflicts float`), left null.
    #[serde(default)]
    pub inexact_values: u64,
}

impl Manifest {
    /// An empty manifest for `shard`.
    pub fn new(shard: &ShardLocation, bytes_in: u64) -> Manifest {
        Manifest {
            database: shard.database.clone(),
            retention_policy: shard.retention_policy.clone(),
            shard: shard.id,
            bytes_in,
            files: Vec::new(),
            fields: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
            replaced_field_values: 0,
            replaced_tag_values: 0,
            cast_values: 0,
            inexact_values: 0,
        }
    }
}

type ShardKey = (String, String, u64);

/// The output directory, prepared for this run (with a remote, the local staging folder
/// and the bucket it is uploaded into).
#[derive(Debug)]
pub struct OutDir {
    root: PathBuf,
    resume: bool,
    done: HashMap<ShardKey, Manifest>,
    remote: Option<Arc<Remote>>,
}

impl OutDir {
    /// Checks the output directory against the mode and makes it ready: creates it,
    /// deletes an earlier export ([`OutMode::Overwrite`]) or stale temporary files
    /// ([`OutMode::Resume`]), writes `options.json`.
    ///
    /// # Errors
    /// [`Error::OutDir`] when the directory is not empty and the mode does not allow that,
    /// or a resumed export meets different options; I/O errors.
    pub fn prepare(options: &Options) -> Result<OutDir> {
        OutDir::open(options, true)
    }

    /// Checks the output directory like [`OutDir::prepare`] and reads what an earlier run
    /// finished, but changes nothing (for a dry run).
    ///
    /// # Errors
    /// As [`OutDir::prepare`].
    pub fn check(options: &Options) -> Result<OutDir> {
        OutDir::open(options, false)
    }

    fn open(config: &Options, write: bool) -> Result<OutDir> {
        let root = config.out.clone();
        let mut out = OutDir {
            root: root.clone(),
            resume: false,
            done: HashMap::new(),
            remote: config.remote.clone(),
        };
        if let Some(remote) = &config.remote {
            prepare_remote(remote, config.mode, &root, write)?;
        }
        let state = root.join(STATE_DIR);
        let options_path = state.join(OPTIONS_FILE);
        let fingerprint = config.fingerprint();
        let empty = match std::fs::read_dir(&root) {
            Ok(mut entries) => entries.next().is_none(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => true,
            Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(Error::OutDir(format!(
                    "--out {} is not a folder",
                    root.display()
                )));
            }
            Err(err) => return Err(Error::io(cannot("list", &root)(), err)),
        };
        if !empty {
            let ours = options_path.is_file();
            match config.mode {
                OutMode::Fresh => {
                    return Err(Error::OutDir(format!(
                        "--out {} is not empty; pass --resume to continue an earlier export \
                         into it, or --overwrite to replace it",
                        root.display()
                    )));
                }
                OutMode::Overwrite if !ours => {
                    return Err(Error::OutDir(format!(
                        "--out {} is not empty and was not written by influx-tsm \
                         (no {STATE_DIR}/{OPTIONS_FILE}); refusing to delete it",
                        root.display()
                    )));
                }
                OutMode::Resume if !ours => {
                    return Err(Error::OutDir(format!(
                        "--out {} is not empty and holds no earlier export to resume \
                         (no {STATE_DIR}/{OPTIONS_FILE})",
                        root.display()
                    )));
                }
                OutMode::Overwrite => {
                    if write {
                        clear_dir(&root)?;
                    }
                }
                OutMode::Resume => {
                    let text = std::fs::read_to_string(&options_path)
                        .io_context(cannot("read", &options_path))?;
                    let earlier: serde_json::Value =
                        serde_json::from_str(&text).map_err(|source| Error::State {
                            what: cannot("parse", &options_path)(),
                            source,
                        })?;
                    let differences = differences(&earlier, &fingerprint);
                    if !differences.is_empty() {
                        return Err(Error::OutDir(format!(
                            "--resume: the earlier export into {} used other options ({}); \
                             use the same options, or --overwrite",
                            root.display(),
                            differences.join("; ")
                        )));
                    }
                    out.resume = true;
                    out.done = read_manifests(&state.join(DONE_DIR))?;
                    if write {
                        remove_temp_files(&root)?;
                    }
                    return Ok(out);
                }
            }
        }
        if write {
            std::fs::create_dir_all(&root).io_context(cannot("create", &root))?;
            let text = to_json(&fingerprint)?;
            out.write_state_file(&format!("{STATE_DIR}/{OPTIONS_FILE}"), text.as_bytes())?;
        }
        Ok(out)
    }

    /// Writes `bytes` as the file `relative` (`/`-separated) of the output, whole, and
    /// uploads it when the output is a bucket.
    fn write_state_file(&self, relative: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.root.join(relative), bytes)?;
        if let Some(remote) = &self.remote {
            remote.put_small(relative, bytes.to_vec())?;
        }
        Ok(())
    }

    /// Writes the export's `manifest.json` (see [`crate::manifest`]).
    ///
    /// # Errors
    /// I/O and upload errors.
    pub fn write_root_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.write_state_file(name, bytes)
    }

    /// The output directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The manifest of `shard` if an earlier run finished it.
    pub fn done(&self, shard: &ShardLocation) -> Option<&Manifest> {
        self.done.get(&(
            shard.database.clone(),
            shard.retention_policy.clone(),
            shard.id,
        ))
    }

    /// Whether this run continues an earlier one.
    pub fn is_resume(&self) -> bool {
        self.resume
    }

    /// The tables an earlier run of a resumed export wrote ([`OutDir::write_tables`]),
    /// as JSON text; `None` when not resuming or none was written.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn saved_tables(&self) -> Result<Option<String>> {
        if !self.resume {
            return Ok(None);
        }
        let path = self.root.join(STATE_DIR).join(TABLES_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::io(cannot("read", &path)(), err)),
        }
    }

    /// Saves the export's tables (JSON text), before any shard is written.
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_tables(&self, text: &str) -> Result<()> {
        self.write_state_file(&format!("{STATE_DIR}/{TABLES_FILE}"), text.as_bytes())
    }

    /// Marks `manifest`'s shard finished. With a remote, its files are uploaded first
    /// (each one whole), then its record, and the staged files are deleted.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let path = manifest_path(
            &self.root,
            &manifest.database,
            &manifest.retention_policy,
            manifest.shard,
        );
        let text = to_json(manifest)?;
        let Some(remote) = &self.remote else {
            return write_atomic(&path, text.as_bytes());
        };
        for file in &manifest.files {
            remote.upload(&self.root.join(&file.path), &file.path)?;
        }
        let relative = path
            .strip_prefix(&self.root)
            .map(crate::plan::path_string)
            .map_err(|_| Error::Internal("a shard record outside the output".into()))?;
        self.write_state_file(&relative, text.as_bytes())?;
        for file in &manifest.files {
            let staged = self.root.join(&file.path);
            std::fs::remove_file(&staged).io_context(cannot("delete", &staged))?;
        }
        Ok(())
    }

    /// The bucket the output is uploaded into, if any.
    pub fn remote(&self) -> Option<&Arc<Remote>> {
        self.remote.as_ref()
    }

    /// Deletes the files an unfinished earlier run left for `shard`
    /// (`<db>/<rp>/*/<shard>.parquet`, or the one line-protocol file `lp_file`, relative).
    pub fn remove_shard_files(&self, shard: &ShardLocation, lp_file: Option<&Path>) -> Result<()> {
        if let Some(relative) = lp_file {
            let file = self.root.join(relative);
            return match std::fs::remove_file(&file) {
                Ok(()) => Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(Error::io(cannot("delete", &file)(), err)),
            };
        }
        let rp_dir = self
            .root
            .join(naming::encode(shard.database.as_bytes()))
            .join(naming::encode(shard.retention_policy.as_bytes()));
        let entries = match std::fs::read_dir(&rp_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(Error::io(cannot("list", &rp_dir)(), err)),
        };
        let name = format!("{}.parquet", shard.id);
        for entry in entries {
            let file = entry
                .io_context(cannot("list", &rp_dir))?
                .path()
                .join(&name);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(Error::io(cannot("delete", &file)(), err)),
            }
        }
        Ok(())
    }
}

/// Where the manifest of a shard goes.
/// Readies the bucket behind a staging folder for `mode`, as [`OutDir::open`] readies a
/// local folder: a fresh export needs an empty prefix; an overwrite deletes an earlier
/// export (only one influx-tsm wrote); a resume aborts the uploads the earlier run left
/// and brings its state into the staging folder, where the local logic takes over.
fn prepare_remote(remote: &Remote, mode: OutMode, staging: &Path, write: bool) -> Result<()> {
    let url = remote.url();
    let not_empty = remote.check()?;
    let ours = remote.has_state()?;
    match mode {
        OutMode::Fresh if not_empty => Err(Error::OutDir(format!(
            "--out {url} is not empty; pass --resume to continue an earlier export into it, \
             or --overwrite to replace it"
        ))),
        OutMode::Overwrite | OutMode::Resume if not_empty && !ours => Err(Error::OutDir(format!(
            "--out {url} is not empty and holds no export of influx-tsm \
             (no {STATE_DIR}/{OPTIONS_FILE}); refusing to touch it"
        ))),
        OutMode::Resume if !ours => Err(Error::OutDir(format!(
            "--out {url} holds no earlier export to resume"
        ))),
        OutMode::Fresh => Ok(()),
        OutMode::Overwrite => {
            if write && ours {
                remote.abort_unfinished_uploads()?;
                remote.delete_all()?;
            }
            Ok(())
        }
        OutMode::Resume => {
            if write {
                remote.abort_unfinished_uploads()?;
            }
            remote.download_state(staging)
        }
    }
}

fn manifest_path(root: &Path, database: &str, retention_policy: &str, shard: u64) -> PathBuf {
    root.join(STATE_DIR)
        .join(DONE_DIR)
        .join(naming::encode(database.as_bytes()))
        .join(naming::encode(retention_policy.as_bytes()))
        .join(format!("{shard}.json"))
}

/// The options that differ, as `name: earlier -> now`.
fn differences(earlier: &serde_json::Value, now: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let a = earlier.as_object().unwrap_or(&empty);
    let b = now.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| v.map_or("-".to_string(), |v| v.to_string());
            format!("{k}: {} -> {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

fn read_manifests(dir: &Path) -> Result<HashMap<ShardKey, Manifest>> {
    let mut out = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(Error::io(cannot("list", &dir)(), err)),
        };
        for entry in entries {
            let entry = entry.io_context(cannot("list", &dir))?;
            let path = entry.path();
            if entry.file_type().io_context(cannot("list", &dir))?.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && !is_temp_name(&entry.file_name().to_string_lossy())
            {
                let text = std::fs::read_to_string(&path).io_context(cannot("read", &path))?;
                let manifest: Manifest =
                    serde_json::from_str(&text).map_err(|source| Error::State {
                        what: cannot("parse", &path)(),
                        source,
                    })?;
                out.insert(
                    (
                        manifest.database.clone(),
                        manifest.retention_policy.clone(),
                        manifest.shard,
                    ),
                    manifest,
                );
            }
        }
    }
    Ok(out)
}

/// Deletes every temporary file of ours under `root`.
fn remove_temp_files(root: &Path) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).io_context(cannot("list", &dir))? {
            let entry = entry.io_context(cannot("list", &dir))?;
            let kind = entry.file_type().io_context(cannot("list", &dir))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && is_temp_name(&entry.file_name().to_string_lossy()) {
                std::fs::remove_file(entry.path()).io_context(cannot("delete", &entry.path()))?;
            }
        }
    }
    Ok(())
}

/// Deletes everything inside `root`.
fn clear_dir(root: &Path) -> Result<()> {
    for entry in std::fs::read_dir(root).io_context(cannot("list", root))? {
        let entry = entry.io_context(cannot("list", root))?;
        let path = entry.path();
        if entry.file_type().io_context(cannot("list", root))?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        }
        .io_context(cannot("delete", &path))?;
    }
    Ok(())
}

/// Pretty JSON with a final newline.
fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|err| Error::Internal(format!("cannot serialise JSON: {err}")))
}
