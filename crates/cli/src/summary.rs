//! The end-of-run summary: a paragraph on stderr, or JSON on stdout with `--json`.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::conflicts::{Conflict, Conflicts};
use crate::export::ShardResult;
use crate::plan::{Plan, UnlistedShard};
use crate::state::SkipRecord;

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
pub struct Summary {
    /// The tool's version.
    pub version: &'static str,
    /// The output directory.
    pub out: PathBuf,
    /// Shards selected.
    pub shards: usize,
    /// Shards exported by this run.
    pub shards_exported: usize,
    /// Shards an earlier run had finished (`--resume`).
    pub shards_resumed: usize,
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

impl Summary {
    /// Adds up the shard results.
    pub fn new(out: PathBuf, plan: &Plan, results: &[ShardResult], seconds: f64) -> Summary {
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
        Summary {
            version: env!("CARGO_PKG_VERSION"),
            out,
            shards: plan.shards.len(),
            shards_exported: results.iter().filter(|r| !r.resumed).count(),
            shards_resumed: results.iter().filter(|r| r.resumed).count(),
            files: files().count(),
            rows: files().map(|f| f.rows).sum(),
            values: files().map(|f| f.values).sum(),
            bytes_in: plan.bytes(),
            bytes_out: files().map(|f| f.bytes).sum(),
            seconds,
            values_per_second: fresh_values as f64 / seconds.max(1e-9),
            replaced_field_values: manifests().map(|m| m.replaced_field_values).sum(),
            replaced_tag_values: manifests().map(|m| m.replaced_tag_values).sum(),
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

    /// Writes the paragraph, then one line per conflict and per skipped item.
    pub fn write_text(&self, w: &mut impl Write) -> std::io::Result<()> {
        let resumed = if self.shards_resumed > 0 {
            format!(" ({} kept from an earlier run)", self.shards_resumed)
        } else {
            String::new()
        };
        write!(
            w,
            "influx-tsm: exported {} of {} shards{resumed} into {} files under {}: {} rows, \
             {} values; read {}, wrote {} in {:.2} s ({} values/s).",
            self.shards_exported + self.shards_resumed,
            self.shards,
            self.files,
            self.out.display(),
            group(self.rows),
            group(self.values),
            human_bytes(self.bytes_in),
            human_bytes(self.bytes_out),
            self.seconds,
            human_count(self.values_per_second),
        )?;
        if self.replaced_field_values + self.replaced_tag_values > 0 {
            write!(
                w,
                " Bytes that were not UTF-8 were replaced with U+FFFD in {} string values and \
                 {} tag cells.",
                group(self.replaced_field_values),
                group(self.replaced_tag_values)
            )?;
        }
        if !self.conflicts.is_empty() {
            write!(
                w,
                " {} fields have different types in different shards; each file keeps its \
                 shard's type.",
                self.conflicts.len()
            )?;
        }
        if !self.skipped.is_empty() {
            write!(
                w,
                " Skipped {} damaged items (exit status 2).",
                self.skipped.len()
            )?;
        }
        if !self.warnings.is_empty() {
            write!(
                w,
                " {} warnings about data InfluxDB itself leaves out (listed below).",
                self.warnings.len()
            )?;
        }
        if !self.ignored.is_empty() {
            write!(
                w,
                " Passed over {} paths of the input that are not shard data (listed by --json).",
                self.ignored.len()
            )?;
        }
        writeln!(w)
    }

    /// Writes one line per type conflict and per skipped item.
    pub fn write_details(&self, w: &mut impl Write) -> std::io::Result<()> {
        if let Some(problem) = &self.catalogue_problem {
            writeln!(w, "influx-tsm: warning: cannot use the catalogue {problem}")?;
        }
        for u in &self.unlisted_shards {
            let why = if u.status == "deleted" {
                "belongs to a shard group that meta/meta.db marks as dropped"
            } else {
                "is not listed in meta/meta.db"
            };
            writeln!(
                w,
                "influx-tsm: warning: left out shard {}/{}/{}: it {why}, so the server never \
                 reads it (--include-unlisted-shards exports it)",
                u.database, u.retention_policy, u.shard
            )?;
        }
        for s in &self.warnings {
            writeln!(
                w,
                "influx-tsm: warning: shard {}/{}/{}: {}",
                s.database, s.retention_policy, s.shard, s.error
            )?;
        }
        for s in &self.skipped {
            let what = match &s.measurement {
                Some(m) if s.block => format!("a damaged block of measurement {m:?} in shard"),
                Some(m) => format!("measurement {m:?} of shard"),
                None => "shard".to_string(),
            };
            writeln!(
                w,
                "influx-tsm: skipped {what} {}/{}/{}: {}",
                s.database, s.retention_policy, s.shard, s.error
            )?;
        }
        for c in &self.conflicts {
            writeln!(w, "influx-tsm: type conflict: {c}")?;
        }
        Ok(())
    }
}

/// Every field with more than one type across the exported shards.
pub fn conflicts(results: &[ShardResult]) -> Vec<Conflict> {
    let mut conflicts = Conflicts::default();
    for m in results.iter().map(|r| &r.manifest) {
        for f in &m.fields {
            conflicts.add(
                &m.database,
                &m.retention_policy,
                &f.measurement,
                &f.field,
                &f.field_type,
                m.shard,
            );
        }
    }
    conflicts.finish()
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes with a binary unit: `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A rate with a decimal unit: `1.2M`.
pub fn human_count(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.1}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::state::{FieldRecord, Manifest};

    fn result(shard: u64, fields: &[(&str, &str, &str)]) -> ShardResult {
        let mut manifest = Manifest::new(
            &tsm::layout::ShardLocation {
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

    #[test]
    fn numbers() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(human_count(1_234_567.0), "1.2M");
        assert_eq!(human_count(12.0), "12");
    }
}
