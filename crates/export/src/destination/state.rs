//! The output directory's own state, for `--resume` and `--overwrite`.
//!
//! ```text
//! OUT/.influx-tsm/options.json                  the options that decide the contents
//! OUT/.influx-tsm/tables.json                   each measurement's one schema (Parquet)
//! OUT/.influx-tsm/done/<db>/<rp>/<group>.json   one manifest per finished group of shards
//! ```
//!
//! `tables.json` is written before the first shard starts; a resumed export reads it
//! instead of making the tables again, so its files have the schemas of the first run's.
//!
//! `options.json` is written before any Parquet file. A group's manifest (named after the
//! group, [`crate::plan::group::ShardGroup::name`]) is written (whole, by rename) only after
//! every file of the group has been renamed into place and the folders synced, so a
//! manifest means the group is finished. `--resume` checks that the options are the same,
//! deletes stale temporary files and every data file no manifest lists, keeps the groups
//! with a manifest, and exports the rest again: the result has the same files as an
//! uninterrupted run.

use std::path::{Path, PathBuf};

use influx_tsm_shard::layout::ShardLocation;
use serde::Serialize;

use crate::destination::bucket::Bucket;
use crate::destination::earlier::{
    Done, clear_dir, only_state_dir, only_temporary_state, read_manifests, remove_if_there,
    remove_temp_files, remove_unrecorded_files, same_options,
};
use crate::destination::publish::{Access, Destination, LocalFolder};
use crate::destination::records::{Manifest, ShardResult};
use crate::shard::ShardId;

use crate::destination::OPTIONS_FILE;
/// The state folder inside the output directory (its one owner is [`crate::destination`]).
pub use crate::destination::STATE_DIR;
use crate::destination::atomic::{is_temp_name, temp_path, write_atomic};
use crate::error::{Error, InternalError, IoContext, OutDirError, Result, cannot};
use crate::naming;
use crate::plan::options::{Options, OutMode};

const DONE_DIR: &str = "done";
const TABLES_FILE: &str = "tables.json";

/// The output directory, prepared for this run (with a remote, the local staging folder
/// and the bucket it is uploaded into).
#[derive(Debug)]
pub struct OutDir {
    root: PathBuf,
    resume: bool,
    /// Other partitions (`--partition`) or nodes (`--node`) may be writing here: leave
    /// their files alone.
    shared: bool,
    /// A cluster export (`--node`): the tables are the cluster's, and shards finished by
    /// an earlier run are kept without `--resume`.
    cluster: bool,
    done: Done,
    destination: Box<dyn Destination>,
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
        let shared = config.is_shared();
        let cluster = config.node.is_some();
        let mut out = OutDir {
            root: root.clone(),
            resume: false,
            shared,
            cluster,
            done: Done::default(),
            destination: match &config.remote {
                Some(remote) => Box::new(Bucket::new(remote.clone())),
                None => Box::new(LocalFolder),
            },
        };
        let access = Access {
            write,
            shared,
            cluster,
        };
        out.destination.prepare(config.mode, &root, access)?;
        let state = root.join(STATE_DIR);
        let options_path = state.join(OPTIONS_FILE);
        let fingerprint = config.fingerprint();
        let empty = match std::fs::read_dir(&root) {
            Ok(mut entries) => entries.next().is_none(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => true,
            Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(Error::OutDir(OutDirError::NotAFolder { out: root }));
            }
            Err(err) => return Err(Error::io(cannot("list", &root)(), err)),
        };
        // An export killed before its options file was in place left only the state
        // folder with temporary files in it: nothing was written, so start afresh.
        // (Not with partitions: there it may be another one starting at this moment.)
        let aborted_start =
            !shared && !empty && !options_path.exists() && only_temporary_state(&root);
        if aborted_start && write {
            remove_temp_files(&root)?;
        }
        let empty = empty || aborted_start;
        if !empty && Self::open_written(&mut out, config, write, &options_path, &fingerprint)? {
            return Ok(out);
        }
        if write {
            std::fs::create_dir_all(&root).io_context(cannot("create", &root))?;
            write_options(&options_path, &fingerprint, shared)?;
            out.destination.publish_file(
                &format!("{STATE_DIR}/{OPTIONS_FILE}"),
                to_json(&fingerprint)?.as_bytes(),
            )?;
        }
        Ok(out)
    }

    /// Opens an output folder that holds files, as `config.mode` says; `true` when it is
    /// ready as it is, `false` when it was cleared and is to be started afresh.
    fn open_written(
        out: &mut OutDir,
        config: &Options,
        write: bool,
        options_path: &Path,
        fingerprint: &serde_json::Value,
    ) -> Result<bool> {
        let root = out.root.clone();
        let state = root.join(STATE_DIR);
        let (shared, cluster) = (out.shared, out.cluster);
        let ours = options_path.is_file();
        match config.mode {
            // Another partition's files, or its export starting at this moment (its
            // options file not written yet): the options must be the same.
            OutMode::Fresh if shared && (ours || only_state_dir(&root)) => {
                let (flag, who) = if cluster {
                    ("--node", "every node")
                } else {
                    ("--partition", "every partition")
                };
                if ours {
                    same_options(options_path, fingerprint, flag, who)?;
                } else if write {
                    write_options(options_path, fingerprint, shared)?;
                }
                if cluster {
                    // A node's re-run keeps what any node finished: re-runs are
                    // idempotent, and a replica finished elsewhere is not written again.
                    out.done = read_manifests(&state.join(DONE_DIR))?;
                }
                return Ok(true);
            }
            OutMode::Fresh => {
                return Err(Error::OutDir(OutDirError::NotEmpty {
                    out: root.display().to_string(),
                }));
            }
            OutMode::Overwrite if !ours => {
                return Err(Error::OutDir(OutDirError::NotOursToDelete {
                    out: root,
                    options_file: format!("{STATE_DIR}/{OPTIONS_FILE}"),
                }));
            }
            OutMode::Resume if !ours => {
                return Err(Error::OutDir(OutDirError::NothingToResume {
                    out: root,
                    options_file: format!("{STATE_DIR}/{OPTIONS_FILE}"),
                }));
            }
            OutMode::Overwrite => {
                if write {
                    clear_dir(&root)?;
                }
            }
            OutMode::Resume => {
                same_options(
                    options_path,
                    fingerprint,
                    "--resume",
                    "this run, or --overwrite",
                )?;
                out.resume = true;
                out.done = read_manifests(&state.join(DONE_DIR))?;
                // Shared: each group's own files go before it is written.
                if write && !shared {
                    remove_temp_files(&root)?;
                    // Files of a group left unfinished, also when the groups changed
                    // since (a shard grew): only finished groups' files stay.
                    remove_unrecorded_files(&root, &out.done)?;
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The state file `relative` (`/`-separated, under the output), if it is there (for
    /// a bucket, as it was when this run started).
    ///
    /// # Errors
    /// When it exists but cannot be read.
    pub(crate) fn read_state_file(&self, relative: &str) -> Result<Option<String>> {
        let path = self.root.join(relative);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(Error::io(cannot("read", &path)(), err)),
        }
    }

    /// The state files in the folder `relative` (not in its subfolders), by name, in
    /// name order, without temporary files.
    ///
    /// # Errors
    /// When the folder exists but cannot be listed or a file read.
    pub(crate) fn read_state_dir(&self, relative: &str) -> Result<Vec<(String, String)>> {
        let dir = self.root.join(relative);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(Error::io(cannot("list", &dir)(), err)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.io_context(cannot("list", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temp_name(&name)
                || !entry
                    .file_type()
                    .io_context(cannot("list", &dir))?
                    .is_file()
            {
                continue;
            }
            let path = entry.path();
            files.push((
                name,
                std::fs::read_to_string(&path).io_context(cannot("read", &path))?,
            ));
        }
        files.sort();
        Ok(files)
    }

    /// Writes `bytes` as the file `relative` (`/`-separated) of the output, whole, and
    /// uploads it when the output is a bucket.
    pub(crate) fn write_state_file(&self, relative: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.root.join(relative), bytes)?;
        self.destination.publish_file(relative, bytes)
    }

    /// Writes the export's `manifest.json` (see [`crate::destination::manifest`]).
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

    /// The manifest of the group holding `shard` if an earlier run finished it.
    pub fn done(&self, shard: &ShardLocation) -> Option<&Manifest> {
        self.done.get(&ShardId::of(shard))
    }

    /// Whether this run continues an earlier one.
    pub fn is_resume(&self) -> bool {
        self.resume
    }

    /// The tables an earlier run of a resumed export wrote ([`OutDir::write_tables`]),
    /// or those of a cluster export, as JSON text; `None` when not resuming (and not a
    /// cluster export) or none was written.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn saved_tables(&self) -> Result<Option<String>> {
        if !self.resume && !self.cluster {
            return Ok(None);
        }
        self.read_state_file(&format!("{STATE_DIR}/{TABLES_FILE}"))
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
            &manifest.group_name(),
        );
        let text = to_json(manifest)?;
        let files: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
        let staged = self.destination.publish_data(&self.root, &files)?;
        let relative = path
            .strip_prefix(&self.root)
            .map(naming::path_string)
            .map_err(|_| {
                Error::Internal(InternalError::Impossible(
                    "a shard record outside the output",
                ))
            })?;
        self.write_state_file(&relative, text.as_bytes())?;
        if staged {
            for file in &files {
                let staged = self.root.join(file);
                std::fs::remove_file(&staged).io_context(cannot("delete", &staged))?;
            }
        }
        Ok(())
    }

    /// With partitions sharing the output: every shard of `shards` as finished by any of
    /// them (read again from the state folder), in (database, retention policy, shard)
    /// order; `None` while one is not finished yet.
    ///
    /// # Errors
    /// When a shard record cannot be read.
    pub fn all_done(
        &self,
        shards: impl Iterator<Item = ShardId>,
    ) -> Result<Option<Vec<ShardResult>>> {
        // With a bucket, the other partitions' records are there, not in this folder.
        self.destination.refresh_state(&self.root)?;
        let done = read_manifests(&self.root.join(STATE_DIR).join(DONE_DIR))?;
        let mut seen = std::collections::HashSet::new();
        let mut all = Vec::new();
        for key in shards {
            let Some(&record) = done.by_shard.get(&key) else {
                return Ok(None);
            };
            if seen.insert(record) {
                all.push(ShardResult {
                    manifest: done.records[record].clone(),
                    resumed: true,
                });
            }
        }
        all.sort_by_key(|r| r.manifest.shard_id());
        Ok(Some(all))
    }

    /// Whether the output has the file `name` at its root (in the bucket, for a remote).
    ///
    /// # Errors
    /// When the bucket cannot be asked.
    pub fn has_root_file(&self, name: &str) -> Result<bool> {
        self.destination.has_root_file(&self.root, name)
    }

    /// Deletes the files an unfinished earlier run left for the group `name` of
    /// `first`'s database and retention policy (`<db>/<rp>/*/<name>.parquet`, or the one
    /// line-protocol file `lp_file`, relative).
    pub fn remove_group_files(
        &self,
        first: &ShardLocation,
        name: &str,
        lp_file: Option<&Path>,
    ) -> Result<()> {
        if self.shared {
            // Uploads a killed run left open for this group's files (a resume aborts all
            // of them before it starts; processes sharing the bucket may not).
            let rp = format!(
                "{}/{}/",
                naming::encode(first.database.as_bytes()),
                naming::encode(first.retention_policy.as_bytes())
            );
            let parquet = format!("/{name}.parquet");
            let lp = lp_file.map(naming::path_string);
            self.destination.abandon_partial(&|relative| {
                lp.as_deref() == Some(relative)
                    || (relative.starts_with(&rp) && relative.ends_with(&parquet))
            })?;
        }
        if let Some(relative) = lp_file {
            let file = self.root.join(relative);
            remove_if_there(&temp_path(&file))?;
            return remove_if_there(&file);
        }
        let rp_dir = self
            .root
            .join(naming::encode(first.database.as_bytes()))
            .join(naming::encode(first.retention_policy.as_bytes()));
        let entries = match std::fs::read_dir(&rp_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(Error::io(cannot("list", &rp_dir)(), err)),
        };
        let name = format!("{name}.parquet");
        // `.<name>.parquet.tmp`, `.<name>.parquet.part<n>.tmp`: this group's unfinished files.
        let temp_prefix = format!(".{name}");
        for entry in entries {
            let dir = entry.io_context(cannot("list", &rp_dir))?.path();
            remove_if_there(&dir.join(&name))?;
            if !self.shared || !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&dir).io_context(cannot("list", &dir))? {
                let file = file.io_context(cannot("list", &dir))?;
                let file_name = file.file_name().to_string_lossy().into_owned();
                if is_temp_name(&file_name) && file_name.starts_with(&temp_prefix) {
                    remove_if_there(&file.path())?;
                }
            }
        }
        Ok(())
    }

    /// Whether a group's files from another run may be there, to be removed before it is
    /// written: with `--partition` or `--node`, where other processes share the output. (A
    /// resume of one process removed every unfinished group's files when it prepared the
    /// output, deleting every data file no finished group lists.)
    pub fn cleans_shards(&self) -> bool {
        self.shared
    }
}

/// Writes `options.json`. Partitions starting together each write it (the same text)
/// through a temporary file of their own, so that no process renames another's away.
fn write_options(path: &Path, fingerprint: &serde_json::Value, shared: bool) -> Result<()> {
    let text = to_json(fingerprint)?;
    if !shared {
        return write_atomic(path, text.as_bytes());
    }
    let parent = path.parent().unwrap_or(path);
    std::fs::create_dir_all(parent).io_context(cannot("create", parent))?;
    let own = parent.join(format!(".{OPTIONS_FILE}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&own)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&own, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&own);
    }
    result.io_context(cannot("write", path))
}

/// Where the manifest of a shard goes.
fn manifest_path(root: &Path, database: &str, retention_policy: &str, group: &str) -> PathBuf {
    root.join(STATE_DIR)
        .join(DONE_DIR)
        .join(naming::encode(database.as_bytes()))
        .join(naming::encode(retention_policy.as_bytes()))
        .join(format!("{group}.json"))
}

/// Pretty JSON with a final newline.
pub(crate) fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|err| Error::Internal(InternalError::Json(err.to_string())))
}
