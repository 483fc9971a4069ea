//! The plan: which shards to export, how big they are, and (for `--dry-run`) which
//! measurements and files each gives.

pub mod builder;
pub mod conflicts;
pub mod group;
pub mod options;
pub mod shards;
pub mod storage;
pub mod tables;

use std::path::{Path, PathBuf};

use influx_tsm_backup::Backup;
use influx_tsm_shard::layout::ShardLocation;
use influx_tsm_shard::meta::{Meta, ShardStatus, decode_meta};

use crate::error::{Error, Result, cannot};
use crate::plan::group::{ShardGroup, group_shards};
use crate::plan::options::Options;
use crate::plan::shards::{ElsewhereShard, PlannedShard, UnlistedShard};
use crate::shard::ShardInput;

/// The shards to export.
#[derive(Debug)]
pub struct Plan {
    /// Selected shards, in (database, retention policy, id) order.
    pub shards: Vec<PlannedShard>,
    /// The groups `shards` are exported in ([`crate::plan::group`]), in (database, retention
    /// policy, time) order; each shard is in exactly one.
    pub groups: Vec<ShardGroup>,
    /// What the directory scan passed over, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
    /// Shards left out because the server's catalogue does not list them as live.
    pub unlisted: Vec<UnlistedShard>,
    /// Why the catalogue could not be used, when it exists but did not decode.
    pub catalogue_problem: Option<String>,
    /// With `--partition`: the shards of the other shares. They are not exported here,
    /// but their measurements' schemas are part of each table, so that every partition
    /// writes the same schema.
    pub other_shares: Vec<PlannedShard>,
    /// With `--node` (after [`crate::cluster::assign`]): the export's shards that other
    /// nodes write, those held here too (replicas) among them.
    pub elsewhere: Vec<ElsewhereShard>,
}

impl Plan {
    /// Scans the input and applies the shard filters.
    ///
    /// # Errors
    /// When a folder cannot be listed or a file's size read.
    pub fn new(config: &Options) -> Result<Plan> {
        let input = Input::scan(&config.data_dir, config.wal_dir.as_deref())?;
        let Input {
            shards: found,
            ignored: input_ignored,
            meta,
            catalogue_problem,
        } = input;
        let mut shards = Vec::new();
        let mut unlisted = Vec::new();
        for (location, input) in found {
            if !config.filter.shard(&location) {
                continue;
            }
            // Without a catalogue every shard folder counts, in id order.
            let (status, start_time) = match &meta {
                Some(meta) => {
                    meta.shard(&location.database, &location.retention_policy, location.id)
                }
                None => (ShardStatus::Live, None),
            };
            if status != ShardStatus::Live && !config.include_unlisted_shards {
                unlisted.push(UnlistedShard {
                    database: location.database.clone(),
                    retention_policy: location.retention_policy.clone(),
                    shard: location.id,
                    status: shard_status_name(status),
                });
                continue;
            }
            let bytes = match &input {
                ShardInput::Folder => shard_bytes(&location)?,
                ShardInput::Backup(shard) => shard.bytes(),
            };
            shards.push(PlannedShard {
                location,
                bytes,
                input,
                start_time,
            });
        }
        let mut plan = Plan {
            shards,
            groups: Vec::new(),
            ignored: input_ignored,
            unlisted,
            catalogue_problem,
            other_shares: Vec::new(),
            elsewhere: Vec::new(),
        };
        plan.regroup(config);
        if let Some(share) = config.partition {
            plan.keep_share(share);
        }
        Ok(plan)
    }

    /// Groups the shards again ([`crate::plan::group::group_shards`]), after `shards` changed.
    ///
    /// A cluster export (`--node`) writes one file per shard: its nodes hold different
    /// shards, and a group is written by one process, so no grouping could both stay on
    /// one node and give the files one process gives for the whole cluster.
    pub fn regroup(&mut self, config: &Options) {
        let target = config.target_file_size.filter(|_| config.node.is_none());
        self.groups = group_shards(&self.shards, target);
    }

    /// Keeps this process's share of the groups (`--partition`): the groups are dealt
    /// by bytes ([`partition`]), each by its first shard's id; the other shares' shards
    /// move to `other_shares`.
    fn keep_share(&mut self, share: options::Partition) {
        let sizes: Vec<(u64, u64)> = self.groups.iter().map(|g| (g.bytes, g.ids[0])).collect();
        let bins = partition(&sizes, share.count);
        let mut own = vec![false; self.shards.len()];
        for (group, bin) in self.groups.iter().zip(&bins) {
            if *bin + 1 == share.index {
                group.members.iter().for_each(|&i| own[i] = true);
            }
        }
        // Each kept shard's new position, by its old one.
        let mut moved = vec![usize::MAX; own.len()];
        for (new, (old, _)) in own.iter().enumerate().filter(|(_, own)| **own).enumerate() {
            moved[old] = new;
        }
        let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.shards)
            .into_iter()
            .zip(own)
            .partition(|(_, own)| *own);
        self.shards = mine.into_iter().map(|(shard, _)| shard).collect();
        self.other_shares = others.into_iter().map(|(shard, _)| shard).collect();
        let groups = std::mem::take(&mut self.groups);
        self.groups = groups
            .into_iter()
            .zip(bins)
            .filter(|(_, bin)| *bin + 1 == share.index)
            .map(|(mut group, _)| {
                group.members.iter_mut().for_each(|i| *i = moved[*i]);
                group
            })
            .collect();
    }

    /// Total bytes of the selected shards' files.
    pub fn bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.bytes).sum()
    }
}

/// Deals shards of the given (bytes, shard id) into `count` shares balanced by bytes:
/// largest first, each onto the share with the fewest bytes so far (the lowest-numbered on
/// a tie); shards of equal size go in shard-id order. Returns each shard's share, 0-based.
/// The result depends only on the sizes and ids, so N processes planning the same input
/// agree on it, and every shard is in exactly one share.
///
/// ```
/// // Sizes 50, 40, 30, 20 onto 2 shares: 50 | 40, then 30 onto 40's share, 20 onto 50's.
/// let shares = influx_tsm_export::partition(&[(20, 1), (50, 2), (30, 3), (40, 4)], 2);
/// assert_eq!(shares, [0, 0, 1, 1]);
/// ```
pub fn partition(shards: &[(u64, u64)], count: u32) -> Vec<u32> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..shards.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(shards[i].0), shards[i].1, i));
    let mut load = vec![0u64; count as usize];
    let mut share = vec![0u32; shards.len()];
    for i in order {
        let (lightest, _) = load
            .iter()
            .enumerate()
            .min_by_key(|&(bin, bytes)| (*bytes, bin))
            .unwrap_or((0, &0));
        load[lightest] = load[lightest].saturating_add(shards[i].0);
        share[i] = lightest as u32;
    }
    share
}

/// The shards an input holds, each with where its files are, and its catalogue: a live
/// directory (scanned) or a backup folder (its manifest or archives listed).
pub struct Input {
    /// Shards in (database, retention policy, id) order.
    pub shards: Vec<(ShardLocation, ShardInput)>,
    /// What the scan passed over, with the reason.
    pub ignored: Vec<(PathBuf, String)>,
    /// The server's catalogue, when there is one that decodes.
    pub meta: Option<Meta>,
    /// Why the catalogue could not be used, when it exists but did not decode.
    pub catalogue_problem: Option<String>,
}

impl Input {
    /// Lists the shards of `data_dir`: a backup folder when [`Backup::detect`] says so,
    /// otherwise a data directory (with its WAL directory).
    ///
    /// # Errors
    /// When a folder cannot be listed, or a backup's catalogue or archive headers are
    /// damaged.
    pub fn scan(data_dir: &Path, wal_dir: Option<&Path>) -> Result<Input> {
        let scan_error = |source| Error::Scan {
            dir: data_dir.to_path_buf(),
            source,
        };
        if Backup::detect(data_dir).is_some() {
            let backup = Backup::open(data_dir).map_err(|e| scan_error(e.into()))?;
            return Ok(Input {
                shards: backup
                    .shards
                    .into_iter()
                    .map(|s| (s.location(), ShardInput::Backup(s)))
                    .collect(),
                ignored: backup.ignored,
                meta: Some(backup.meta),
                catalogue_problem: None,
            });
        }
        let layout = influx_tsm_shard::layout::scan(data_dir, wal_dir).map_err(scan_error)?;
        let (meta, catalogue_problem) = catalogue(data_dir);
        Ok(Input {
            shards: layout
                .shards
                .into_iter()
                .map(|s| (s, ShardInput::Folder))
                .collect(),
            ignored: layout.skipped,
            meta,
            catalogue_problem,
        })
    }
}

/// The server's catalogue, `meta/meta.db` beside the data directory (InfluxDB's layout),
/// when it exists; or why it could not be read. Without one every shard folder counts.
pub fn catalogue(data_dir: &Path) -> (Option<Meta>, Option<String>) {
    let Some(path) = data_dir.parent().map(|p| p.join("meta").join("meta.db")) else {
        return (None, None);
    };
    let unusable = |err: &dyn std::fmt::Display| {
        Some(format!(
            "{}: {err}; every shard folder is exported",
            path.display()
        ))
    };
    match std::fs::read(&path) {
        Ok(bytes) => match decode_meta(&bytes) {
            Ok(meta) => (Some(meta), None),
            Err(err) => (None, unusable(&err)),
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(err) => (None, unusable(&err)),
    }
}

/// `live`, `deleted` or `unlisted`: what the catalogue says of a shard folder.
pub fn shard_status_name(status: ShardStatus) -> &'static str {
    match status {
        ShardStatus::Live => "live",
        ShardStatus::Deleted => "deleted",
        ShardStatus::Unlisted => "unlisted",
    }
}

/// Bytes of a shard's files.
fn shard_bytes(location: &ShardLocation) -> Result<u64> {
    let mut total = 0;
    let paths = location
        .tsm_files
        .iter()
        .flat_map(|f| std::iter::once(&f.path).chain(f.tombstone.as_ref()))
        .chain(&location.wal_segments);
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) => total += meta.len(),
            // Replaced since the scan by a running influxd: the size only orders and
            // groups the work, and the shard is listed again when it is opened.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::io(cannot("read the size of", path)(), err)),
        }
    }
    Ok(total)
}
