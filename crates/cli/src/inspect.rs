//! `influx-tsm inspect`: prints [`influx_tsm_export::inspect::Inspection`] as text or JSON.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Result;
use influx_tsm_export::StorageDirs;
use influx_tsm_export::inspect::{FileInfo, Inspection, inspect};

use crate::UsageError;
use crate::args::InspectArgs;
use indicatif::{HumanBytes, HumanCount};

/// RFC 3339 in UTC with nanoseconds when needed.
pub fn time_text(ns: Option<i64>) -> String {
    match ns {
        None => "-".to_string(),
        Some(ns) => chrono::DateTime::from_timestamp_nanos(ns)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    }
}

/// Writes the report as indented text.
pub fn write_text(report: &Inspection, w: &mut impl Write) -> std::io::Result<()> {
    let mut last: Option<(&str, &str)> = None;
    for s in &report.shards {
        if last.is_none_or(|(db, _)| db != s.database) {
            writeln!(w, "database {}", s.database)?;
        }
        if last != Some((&s.database, &s.retention_policy)) {
            let n = report
                .shards
                .iter()
                .filter(|x| x.database == s.database && x.retention_policy == s.retention_policy)
                .count();
            writeln!(w, "  retention policy {}: {n} shards", s.retention_policy)?;
        }
        last = Some((&s.database, &s.retention_policy));
        let sum = |files: &[FileInfo]| files.iter().map(|f| f.bytes).sum::<u64>();
        writeln!(
            w,
            "    shard {}{}: {} .. {}; {} TSM ({}), {} tombstone ({}), {} WAL ({})",
            s.id,
            match s.catalogue {
                Some(status) if status != "live" => {
                    format!(" ({status} in meta.db: not queried, not exported by default)")
                }
                _ => String::new(),
            },
            time_text(s.min_time),
            time_text(s.max_time),
            s.tsm_files.len(),
            HumanBytes(sum(&s.tsm_files)),
            s.tombstone_files.len(),
            HumanBytes(sum(&s.tombstone_files)),
            s.wal_files.len(),
            HumanBytes(sum(&s.wal_files)),
        )?;
        for (name, m) in &s.measurements {
            writeln!(
                w,
                "      {name:?}: {} series, {} values, {} .. {}",
                m.series,
                HumanCount(m.values),
                time_text(m.min_time),
                time_text(m.max_time)
            )?;
            let fields: Vec<String> = m
                .fields
                .iter()
                .map(|(k, f)| {
                    let types: Vec<&str> = f.types.iter().map(String::as_str).collect();
                    format!("{k:?} {} ({})", types.join("|"), HumanCount(f.values))
                })
                .collect();
            writeln!(w, "        fields: {}", fields.join(", "))?;
            if !m.tag_keys.is_empty() {
                let tags: Vec<String> = m.tag_keys.iter().map(|t| format!("{t:?}")).collect();
                writeln!(w, "        tags: {}", tags.join(", "))?;
            }
        }
        for p in &s.problems {
            writeln!(w, "      problem: {p}")?;
        }
    }
    for c in &report.type_conflicts {
        writeln!(w, "type conflict: {c}")?;
    }
    if let Some(problem) = &report.catalogue_problem {
        writeln!(w, "warning: cannot use the catalogue {problem}")?;
    }
    for c in &report.key_clashes {
        let ids: Vec<String> = c.shards.iter().map(u64::to_string).collect();
        writeln!(
            w,
            "key clash: {}/{} measurement {:?}: {:?} is a tag key and a field key (shards {})",
            c.database,
            c.retention_policy,
            c.measurement,
            c.key,
            ids.join(", ")
        )?;
    }
    let values: u64 = report
        .shards
        .iter()
        .flat_map(|s| s.measurements.values())
        .map(|m| m.values)
        .sum();
    let dbs: BTreeSet<&str> = report.shards.iter().map(|s| s.database.as_str()).collect();
    writeln!(
        w,
        "{} databases, {} shards, {} stored values; {} type conflicts, {} key clashes",
        dbs.len(),
        report.shards.len(),
        HumanCount(values),
        report.type_conflicts.len(),
        report.key_clashes.len()
    )
}

/// Runs `inspect`; returns the exit status.
///
/// # Errors
/// A missing folder, folders that cannot be listed, output errors.
pub fn run(args: &InspectArgs) -> Result<u8> {
    let Some(dirs) = StorageDirs::of_folder(&args.dir, args.wal_dir.clone()) else {
        return Err(UsageError(format!("{} is not a folder", args.dir.display())).into());
    };
    let report = inspect(&dirs.data, dirs.wal.as_deref(), &args.databases)?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        write_text(&report, &mut stdout)?;
    }
    stdout.flush()?;
    Ok(0)
}
