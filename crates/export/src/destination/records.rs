//! The records of what a group of shards produced: its files, fields and what was
//! left out, as kept in the output's state and read back by `--resume`.

use influx_tsm_shard::layout::ShardLocation;
use serde::{Deserialize, Serialize};

use crate::shard::ShardId;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    pub fn new(
        shard: &ShardLocation,
        measurement: Option<String>,
        error: &influx_tsm_shard::Error,
    ) -> Self {
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
    pub fn block(
        shard: &ShardLocation,
        measurement: String,
        error: &influx_tsm_shard::Error,
    ) -> Self {
        SkipRecord {
            block: true,
            ..SkipRecord::new(shard, Some(measurement), error)
        }
    }
}

/// A field's type in an exported measurement of a shard, for finding type conflicts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FieldRecord {
    /// The shards whose measurement has the field with this type; empty for every shard
    /// of the record (its one shard, or each of its group's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<u64>,
    /// The measurement (lossy).
    pub measurement: String,
    /// The field key (lossy).
    pub field: String,
    /// `float`, `integer`, `unsigned`, `string` or `boolean`.
    #[serde(rename = "type")]
    pub field_type: String,
}

/// What one group of shards' export produced; written as its completion marker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// The database.
    pub database: String,
    /// The retention policy.
    pub retention_policy: String,
    /// The (first) shard id.
    pub shard: u64,
    /// A group of several shards: every shard id, in time order (`shard` first). Empty
    /// for a group of one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<u64>,
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
    /// Listings of its shards' folders given up and made again because a running influxd
    /// changed the files while they were read.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub relisted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Manifest {
    /// An empty manifest for `shard`.
    pub fn new(shard: &ShardLocation, bytes_in: u64) -> Manifest {
        Manifest {
            database: shard.database.clone(),
            retention_policy: shard.retention_policy.clone(),
            shard: shard.id,
            shards: Vec::new(),
            bytes_in,
            files: Vec::new(),
            fields: Vec::new(),
            skipped: Vec::new(),
            warnings: Vec::new(),
            replaced_field_values: 0,
            replaced_tag_values: 0,
            cast_values: 0,
            inexact_values: 0,
            relisted: 0,
        }
    }

    /// An empty manifest for the group of `shards` (in time order) of `first`'s database
    /// and retention policy.
    pub fn for_group(first: &ShardLocation, shards: &[u64], bytes_in: u64) -> Manifest {
        Manifest {
            shards: if shards.len() > 1 {
                shards.to_vec()
            } else {
                Vec::new()
            },
            ..Manifest::new(first, bytes_in)
        }
    }

    /// Its (first) shard.
    pub fn shard_id(&self) -> ShardId {
        ShardId::new(&self.database, &self.retention_policy, self.shard)
    }

    /// The ids of the shards it holds, in time order.
    pub fn shard_ids(&self) -> Vec<u64> {
        if self.shards.is_empty() {
            vec![self.shard]
        } else {
            self.shards.clone()
        }
    }

    /// Adds what a part of its work recorded (files, fields, what was left out, counts).
    pub fn absorb(&mut self, part: Manifest) {
        self.files.extend(part.files);
        self.fields.extend(part.fields);
        self.skipped.extend(part.skipped);
        self.warnings.extend(part.warnings);
        self.replaced_field_values += part.replaced_field_values;
        self.replaced_tag_values += part.replaced_tag_values;
        self.cast_values += part.cast_values;
        self.inexact_values += part.inexact_values;
        self.relisted += part.relisted;
    }

    /// Merges its field records to one per (measurement, field, type), with the shards
    /// that have it (none listed when that is every shard of the group): a group of
    /// 1,500 shards records each field once, not 1,500 times.
    pub fn compact_fields(&mut self) {
        let all = self.shard_ids();
        let mut merged: std::collections::BTreeMap<(String, String, String), Vec<u64>> =
            std::collections::BTreeMap::new();
        for f in self.fields.drain(..) {
            let shards = merged
                .entry((f.measurement, f.field, f.field_type))
                .or_default();
            if f.shards.is_empty() {
                shards.extend(&all);
            } else {
                shards.extend(f.shards);
            }
        }
        // In the group's (time) order, each once.
        let order: HashMap<u64, usize> = all.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        for ((measurement, field, field_type), mut shards) in merged {
            shards.sort_by_key(|id| order.get(id).copied().unwrap_or(usize::MAX));
            shards.dedup();
            if shards == all {
                shards.clear();
            }
            self.fields.push(FieldRecord {
                shards,
                measurement,
                field,
                field_type,
            });
        }
    }

    /// The name of its group ([`crate::plan::group::group_name`]).
    pub fn group_name(&self) -> String {
        crate::plan::group::group_name(&self.shard_ids())
    }
}

/// One shard's outcome.
#[derive(Debug, Clone)]
pub struct ShardResult {
    /// What the shard produced (read back from the earlier run when `resumed`).
    pub manifest: Manifest,
    /// Finished by an earlier run.
    pub resumed: bool,
}
