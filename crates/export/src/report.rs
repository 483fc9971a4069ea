//! What an export did: [`Report`], added up from each shard's [`ShardResult`]; the
//! binary prints it as a paragraph or as JSON.

pub(crate) mod dry_run;
pub mod inspect;
pub(crate) mod observer;

use std::path::PathBuf;

use serde::Serialize;

use crate::destination::records::ShardResult;
use crate::destination::records::SkipRecord;
use crate::plan::Plan;
use crate::plan::conflicts::{Conflict, Conflicts};
use crate::plan::shards::{ElsewhereShard, UnlistedShard};

/// A path of the input tree that is not shard data.
#[derive(Debug, Serialize)]
pub struct Ignored {
    /// The path.
    pub path: PathBuf,
    /// Why it was passed over.
    pub reason: String,
}

/// What the run did.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The tool's version.
    pub version: &'static str,
    /// The output directory.
    pub out: PathBuf,
    /// Shards selected.
    pub shards: usize,
    /// Shards exported by this run.
    pub shards_exported: usize,
    /// Shards an earlier run had finished (`--resume`; with `--node`, finished by any
    /// node's earlier run).
    pub shards_resumed: usize,
    /// With `--node`: shards held here that another node of the cluster writes
    /// (replicas), not exported by this run.
    pub replicas_left: Vec<ElsewhereShard>,
    /// Parquet files in the output.
    pub files: usize,
    /// Rows in the output.
    pub rows: u64,
    /// Non-null field values in the output.
    pub values: u64,
    /// Bytes of input files of the selected shards.
    pub bytes_in: u64,
    /// Bytes of Parquet written.
    pub bytes_out: u64,
    /// Wall-clock seconds of this run.
    pub seconds: f64,
    /// Values exported by this run per second.
    pub values_per_second: f64,
    /// String field values that were not UTF-8 and were replaced lossily.
    pub replaced_field_values: u64,
    /// Tag cells that were not UTF-8 and were replaced lossily.
    pub replaced_tag_values: u64,
    /// Field values cast to their column's type (`--type-conflicts float` or `string`).
    pub cast_values: u64,
    /// Field values that no value of their column's type equals, left null.
    pub inexact_values: u64,
    /// Listings of shard folders made again by this run because a running influxd
    /// changed the files while they were read (each shard is still exported as of one
    /// moment).
    pub shards_relisted: u64,
    /// Data skipped with `--skip-corrupt`.
    pub skipped: Vec<SkipRecord>,
    /// Data left out as InfluxDB would leave it out (torn WAL tails and the like).
    pub warnings: Vec<SkipRecord>,
    /// Fields whose type differs between shards.
    pub conflicts: Vec<Conflict>,
    /// Paths of the input tree passed over.
    pub ignored: Vec<Ignored>,
    /// Shard folders left out because `meta/meta.db` does not list them as live.
    pub unlisted_shards: Vec<UnlistedShard>,
    /// Why `meta/meta.db` could not be used, when it exists.
    pub catalogue_problem: Option<String>,
    /// The exit status.
    pub exit_code: u8,
}

impl Report {
    /// Adds up the shard results.
    pub fn new(out: PathBuf, plan: &Plan, results: &[ShardResult], seconds: f64) -> Report {
        let manifests = || results.iter().map(|r| &r.manifest);
        let files = || manifests().flat_map(|m| &m.files);
        let fresh_values: u64 = results
            .iter()
            .filter(|r| !r.resumed)
            .flat_map(|r| &r.manifest.files)
            .map(|f| f.values)
            .sum();
        let skipped: Vec<SkipRecord> = manifests()
            .flat_map(|m| m.skipped.iter().cloned())
            .collect();
        Report {
            version: env!("CARGO_PKG_VERSION"),
            out,
            shards: plan.shards.len(),
            shards_exported: results
                .iter()
                .filter(|r| !r.resumed)
                .map(|r| r.manifest.shard_ids().len())
                .sum(),
            shards_resumed: results
                .iter()
                .filter(|r| r.resumed)
                .map(|r| r.manifest.shard_ids().len())
                .sum(),
            replicas_left: plan
                .elsewhere
                .iter()
                .filter(|s| s.held_here)
                .cloned()
                .collect(),
            files: files().count(),
            rows: files().map(|f| f.rows).sum(),
            values: files().map(|f| f.values).sum(),
            bytes_in: plan.bytes(),
            bytes_out: files().map(|f| f.bytes).sum(),
            seconds,
            values_per_second: fresh_values as f64 / seconds.max(1e-9),
            replaced_field_values: manifests().map(|m| m.replaced_field_values).sum(),
            replaced_tag_values: manifests().map(|m| m.replaced_tag_values).sum(),
            cast_values: manifests().map(|m| m.cast_values).sum(),
            inexact_values: manifests().map(|m| m.inexact_values).sum(),
            shards_relisted: results
                .iter()
                .filter(|r| !r.resumed)
                .map(|r| r.manifest.relisted)
                .sum(),
            exit_code: if skipped.is_empty() { 0 } else { 2 },
            skipped,
            warnings: manifests()
                .flat_map(|m| m.warnings.iter().cloned())
                .collect(),
            conflicts: conflicts(results),
            ignored: plan
                .ignored
                .iter()
                .map(|(path, reason)| Ignored {
                    path: path.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            unlisted_shards: plan.unlisted.clone(),
            catalogue_problem: plan.catalogue_problem.clone(),
        }
    }
}

/// Every field with more than one type across the exported shards.
pub fn conflicts(results: &[ShardResult]) -> Vec<Conflict> {
    let mut conflicts = Conflicts::default();
    for m in results.iter().map(|r| &r.manifest) {
        let all = m.shard_ids();
        for f in &m.fields {
            let shards = if f.shards.is_empty() { &all } else { &f.shards };
            for &shard in shards {
                conflicts.add(
                    &m.database,
                    &m.retention_policy,
                    &f.measurement,
                    &f.field,
                    &f.field_type,
                    shard,
                );
            }
        }
    }
    conflicts.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::destination::records::{FieldRecord, Manifest};

    fn result(shard: u64, fields: &[(&str, &str, &str)]) -> ShardResult {
        let mut manifest = Manifest::new(
            &influx_tsm_shard::layout::ShardLocation {
                database: "db".into(),
                retention_policy: "rp".into(),
                id: shard,
                data_dir: PathBuf::new(),
                wal_dir: None,
                tsm_files: Vec::new(),
                wal_segments: Vec::new(),
            },
            0,
        );
        manifest.fields = fields
            .iter()
            .map(|(m, f, t)| FieldRecord {
                shards: Vec::new(),
                measurement: m.to_string(),
                field: f.to_string(),
                field_type: t.to_string(),
            })
            .collect();
        ShardResult {
            manifest,
            resumed: false,
        }
    }

    #[test]
    fn conflicts_list_every_type_with_its_shards() {
        let results = [
            result(1, &[("cpu", "v", "integer"), ("cpu", "w", "float")]),
            result(2, &[("cpu", "v", "float"), ("cpu", "w", "float")]),
            result(3, &[("cpu", "v", "integer"), ("mem", "v", "string")]),
        ];
        let found = conflicts(&results);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].measurement, "cpu");
        assert_eq!(found[0].field, "v");
        let types: Vec<(&str, &[u64])> = found[0]
            .types
            .iter()
            .map(|(t, s)| (t.as_str(), s.as_slice()))
            .collect();
        assert_eq!(types, [("float", &[2][..]), ("integer", &[1, 3][..])]);
    }
}
