//! What an earlier run left in the output folder: its finished groups' records, its
//! options, and files it did not finish.

use crate::destination::STATE_DIR;
use crate::destination::atomic::is_temp_name;
use crate::destination::records::Manifest;
use crate::error::{Error, IoContext, OutDirError, Result, cannot};
use crate::shard::ShardId;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub(crate) fn remove_if_there(file: &Path) -> Result<()> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(Error::io(cannot("delete", file)(), err)),
    }
}

/// Whether `root` holds nothing but the state folder.
pub(crate) fn only_state_dir(root: &Path) -> bool {
    std::fs::read_dir(root).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .all(|e| e.file_name() == STATE_DIR)
    })
}

/// Whether `root` holds nothing but the state folder, and that only temporary files.
pub(crate) fn only_temporary_state(root: &Path) -> bool {
    only_state_dir(root)
        && std::fs::read_dir(root.join(STATE_DIR)).is_ok_and(|entries| {
            entries.filter_map(|e| e.ok()).all(|e| {
                e.file_type().is_ok_and(|t| t.is_file())
                    && is_temp_name(&e.file_name().to_string_lossy())
            })
        })
}

/// Refuses an output folder written with other options.
pub(crate) fn same_options(
    options_path: &Path,
    fingerprint: &serde_json::Value,
    flag: &str,
    hint: &str,
) -> Result<()> {
    let text = std::fs::read_to_string(options_path).io_context(cannot("read", options_path))?;
    let earlier: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| Error::State {
            what: cannot("parse", options_path)(),
            source,
        })?;
    let differences = differences(&earlier, fingerprint);
    if differences.is_empty() {
        return Ok(());
    }
    let root = options_path
        .parent()
        .and_then(Path::parent)
        .unwrap_or(options_path);
    Err(Error::OutDir(OutDirError::OtherOptions {
        flag: flag.to_string(),
        out: root.to_path_buf(),
        differences,
        hint: hint.to_string(),
    }))
}

/// The finished groups' manifests, and which holds each shard.
#[derive(Debug, Default)]
pub(crate) struct Done {
    pub(crate) records: Vec<Manifest>,
    pub(crate) by_shard: HashMap<ShardId, usize>,
}

impl Done {
    pub(crate) fn get(&self, key: &ShardId) -> Option<&Manifest> {
        self.by_shard.get(key).map(|&i| &self.records[i])
    }

    pub(crate) fn insert(&mut self, manifest: Manifest) {
        let index = self.records.len();
        for id in manifest.shard_ids() {
            let key = ShardId::new(&manifest.database, &manifest.retention_policy, id);
            self.by_shard.insert(key, index);
        }
        self.records.push(manifest);
    }
}

/// Deletes every data file (`.parquet`, `.lp`, `.lp.gz`) under `root`, outside the state
/// folder, that no finished group's manifest lists.
pub(crate) fn remove_unrecorded_files(root: &Path, done: &Done) -> Result<()> {
    let listed: std::collections::HashSet<PathBuf> = done
        .records
        .iter()
        .flat_map(|m| &m.files)
        .map(|f| root.join(&f.path))
        .collect();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).io_context(cannot("list", &dir))? {
            let entry = entry.io_context(cannot("list", &dir))?;
            let kind = entry.file_type().io_context(cannot("list", &dir))?;
            let path = entry.path();
            if kind.is_dir() {
                if path != root.join(STATE_DIR) {
                    stack.push(path);
                }
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let data = [".parquet", ".lp", ".lp.gz"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if kind.is_file() && data && !listed.contains(&path) && dir != root {
                remove_if_there(&path)?;
            }
        }
    }
    Ok(())
}

/// The options that differ, as `name: earlier -> now`.
pub(crate) fn differences(earlier: &serde_json::Value, now: &serde_json::Value) -> Vec<String> {
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

pub(crate) fn read_manifests(dir: &Path) -> Result<Done> {
    let mut out = Done::default();
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
                out.insert(manifest);
            }
        }
    }
    Ok(out)
}

/// Deletes every temporary file of ours under `root`.
pub(crate) fn remove_temp_files(root: &Path) -> Result<()> {
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
pub(crate) fn clear_dir(root: &Path) -> Result<()> {
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
