//! `--dry-run`: what an export would write, without writing it.

use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use crate::destination::state::OutDir;
use crate::error::{Error, Result};
use crate::naming::path_string;
use crate::parquet_file::output::{group_path, lp_group_path};
use crate::plan::Plan;
use crate::plan::options::{Format, Options};
use crate::plan::shards::PlannedShard;
use crate::shard::open::open_shard;
use crate::shard::shard_name;

/// One shard in a `--dry-run` plan.
#[derive(Debug, Serialize)]
pub struct DryRunShard {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The shard id.
    pub shard: u64,
    /// The group it is exported in ([`crate::plan::group::ShardGroup::name`]); its files are
    /// the group's.
    pub group: String,
    /// Bytes of input.
    pub bytes: u64,
    /// Finished by an earlier run (`--resume`): kept as is.
    pub done: bool,
    /// Selected measurements (lossy names).
    pub measurements: Vec<String>,
    /// Files its data would be written into (relative; the group's other shards write
    /// into them too; a measurement with no points in the time range gives none).
    pub files: Vec<String>,
    /// Damaged data that would be skipped (`--skip-corrupt`).
    pub skipped: Vec<String>,
}

/// A `--dry-run` plan.
#[derive(Debug, Serialize)]
pub struct DryRun {
    /// The output directory.
    pub out: PathBuf,
    /// Shards.
    pub shards: Vec<DryRunShard>,
    /// Total shards.
    pub shard_count: usize,
    /// Total measurements over all shards.
    pub measurement_count: usize,
    /// Total files (each group's once).
    pub file_count: usize,
    /// Total input bytes.
    pub bytes: u64,
}

impl DryRun {
    /// Opens every planned shard (in parallel) to list its measurements.
    ///
    /// # Errors
    /// When a shard cannot be opened (and `--skip-corrupt` does not apply).
    pub fn new(config: &Options, plan: &Plan, out: &OutDir) -> Result<DryRun> {
        let mut group_of = vec![String::new(); plan.shards.len()];
        for group in &plan.groups {
            let name = group.name();
            group
                .members
                .iter()
                .for_each(|&i| group_of[i] = name.clone());
        }
        let shards = plan
            .shards
            .par_iter()
            .zip(&group_of)
            .with_max_len(1)
            .map(|(planned, group)| describe(config, planned, group, out))
            .collect::<Result<Vec<_>>>()?;
        let files: std::collections::BTreeSet<&String> =
            shards.iter().flat_map(|s| &s.files).collect();
        Ok(DryRun {
            out: config.out.clone(),
            shard_count: shards.len(),
            measurement_count: shards.iter().map(|s| s.measurements.len()).sum(),
            file_count: files.len(),
            bytes: plan.bytes(),
            shards,
        })
    }
}

fn describe(
    config: &Options,
    planned: &PlannedShard,
    group: &str,
    out: &OutDir,
) -> Result<DryRunShard> {
    let loc = &planned.location;
    let mut shard = DryRunShard {
        database: loc.database.clone(),
        retention_policy: loc.retention_policy.clone(),
        shard: loc.id,
        group: group.to_string(),
        bytes: planned.bytes,
        done: false,
        measurements: Vec::new(),
        files: Vec::new(),
        skipped: Vec::new(),
    };
    if let Some(manifest) = out.done(loc) {
        shard.done = true;
        shard.group = manifest.group_name();
        shard.files = manifest.files.iter().map(|f| f.path.clone()).collect();
        shard.measurements = manifest
            .files
            .iter()
            .map(|f| f.measurement.clone())
            .collect();
        return Ok(shard);
    }
    let opened = open_shard(config, planned)
        .map_err(|err| Error::Input(err).in_shard(shard_name(loc), None))?;
    shard.skipped = opened.skipped.into_iter().map(|s| s.error).collect();
    let Some(opened) = opened.shard else {
        return Ok(shard);
    };
    for m in opened.measurements() {
        if !config.filter.measurement(&m.name) {
            continue;
        }
        shard
            .measurements
            .push(String::from_utf8_lossy(&m.name).into_owned());
        if config.format == Format::Parquet {
            let path = group_path(&loc.database, &loc.retention_policy, &m.name, group);
            shard.files.push(path_string(&path));
        }
    }
    if config.format == Format::Lp && !shard.measurements.is_empty() {
        let path = lp_group_path(
            &loc.database,
            &loc.retention_policy,
            group,
            config.gzip.is_some(),
        );
        shard.files.push(path_string(&path));
    }
    Ok(shard)
}
