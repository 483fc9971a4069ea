//! What the binary prints of the library's reports: the end-of-run paragraph and its
//! detail lines on stderr, a dry run's plan, and rates as short numbers (sizes and
//! counts are indicatif's `HumanBytes` and `HumanCount`).

use std::io::Write;

use indicatif::{HumanBytes, HumanCount};

use influx_tsm_export::{DryRun, Report};

/// Writes the paragraph of an export's report.
pub fn write_text(report: &Report, w: &mut impl Write) -> std::io::Result<()> {
    let resumed = if report.shards_resumed > 0 {
        format!(
            " ({} already complete in the output, kept)",
            report.shards_resumed
        )
    } else {
        String::new()
    };
    write!(
        w,
        "influx-tsm: exported {} of {} shards{resumed} into {} files under {}: {} rows, \
         {} values; read {}, wrote {} in {:.2} s ({} values/s).",
        report.shards_exported + report.shards_resumed,
        report.shards,
        report.files,
        report.out.display(),
        HumanCount(report.rows),
        HumanCount(report.values),
        HumanBytes(report.bytes_in),
        HumanBytes(report.bytes_out),
        report.seconds,
        human_rate(report.values_per_second),
    )?;
    if !report.replicas_left.is_empty() {
        let mut by_node: std::collections::BTreeMap<&str, usize> = Default::default();
        for shard in &report.replicas_left {
            *by_node.entry(shard.node.as_str()).or_default() += 1;
        }
        let nodes: Vec<String> = by_node
            .iter()
            .map(|(node, n)| format!("{n} by {node}"))
            .collect();
        write!(
            w,
            " {} shards held here are replicas that other nodes export ({}), not written \
             again.",
            report.replicas_left.len(),
            nodes.join(", ")
        )?;
    }
    if report.replaced_field_values + report.replaced_tag_values > 0 {
        write!(
            w,
            " Bytes that were not UTF-8 were replaced with U+FFFD in {} string values and \
             {} tag cells.",
            HumanCount(report.replaced_field_values),
            HumanCount(report.replaced_tag_values)
        )?;
    }
    let vanished = report
        .ignored
        .iter()
        .filter(|i| i.reason == influx_tsm_shard::layout::VANISHED)
        .count();
    if report.shards_relisted > 0 || vanished > 0 {
        write!(
            w,
            " The input changed while it was read (a running influxd's snapshots and \
             compactions: {} listings of shard folders made again, {} entries vanished while \
             listed); each shard was exported as of one moment of its files, everything \
             written before the export started included, later writes maybe not.",
            report.shards_relisted, vanished
        )?;
    }
    if !report.conflicts.is_empty() {
        write!(
            w,
            " {} fields have different types in different shards, each value kept with its \
             own type (manifest.json lists them and the Parquet column of each type).",
            report.conflicts.len()
        )?;
    }
    if report.cast_values > 0 {
        write!(
            w,
            " {} values were cast to their column's type.",
            HumanCount(report.cast_values)
        )?;
    }
    if report.inexact_values > 0 {
        write!(
            w,
            " {} values had no exact equal in their column's type and were left null \
             (--type-conflicts float; use split to keep them).",
            HumanCount(report.inexact_values)
        )?;
    }
    if !report.skipped.is_empty() {
        write!(
            w,
            " Skipped {} damaged items (exit status 2).",
            report.skipped.len()
        )?;
    }
    if !report.warnings.is_empty() {
        write!(
            w,
            " {} warnings about data InfluxDB itself leaves out (listed below).",
            report.warnings.len()
        )?;
    }
    if !report.ignored.is_empty() {
        write!(
            w,
            " Passed over {} paths of the input that are not shard data (listed by --json).",
            report.ignored.len()
        )?;
    }
    writeln!(w)
}

/// Writes one line per warning, type conflict and skipped item of a report.
pub fn write_details(report: &Report, w: &mut impl Write) -> std::io::Result<()> {
    if let Some(problem) = &report.catalogue_problem {
        writeln!(w, "influx-tsm: warning: cannot use the catalogue {problem}")?;
    }
    for u in &report.unlisted_shards {
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
    for s in &report.warnings {
        writeln!(
            w,
            "influx-tsm: warning: shard {}/{}/{}: {}",
            s.database, s.retention_policy, s.shard, s.error
        )?;
    }
    for s in &report.skipped {
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
    for c in &report.conflicts {
        writeln!(w, "influx-tsm: type conflict: {c}")?;
    }
    Ok(())
}

/// Writes a dry run's plan.
pub fn write_dry_run(plan: &DryRun, w: &mut impl Write) -> std::io::Result<()> {
    for s in &plan.shards {
        let state = if s.done { "; done earlier, kept" } else { "" };
        let group = if s.group == s.shard.to_string() {
            String::new()
        } else {
            format!(" (in group {})", s.group)
        };
        writeln!(
            w,
            "shard {}/{}/{}{group}: {} measurements, {} input{state}",
            s.database,
            s.retention_policy,
            s.shard,
            s.measurements.len(),
            HumanBytes(s.bytes),
        )?;
        for file in &s.files {
            writeln!(w, "  {file}")?;
        }
        for error in &s.skipped {
            writeln!(w, "  would skip: {error}")?;
        }
    }
    writeln!(
        w,
        "plan: {} shards, {} measurements, up to {} files, {} input, into {}",
        plan.shard_count,
        plan.measurement_count,
        plan.file_count,
        HumanBytes(plan.bytes),
        plan.out.display()
    )
}

/// A rate with a decimal unit: `1.2M`. Not indicatif's `HumanCount`, which writes every
/// digit: a rate is approximate, and on the progress bar, redrawn four times a second, a
/// number of changing width and last digits is noise.
pub fn human_rate(n: f64) -> String {
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

/// An error and its causes, each said once (a cause whose text the message already ends
/// with is not repeated), and what to do when a file vanished while it was read.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.ends_with(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    let vanished = err.chain().any(|cause| {
        cause
            .downcast_ref::<influx_tsm_shard::Error>()
            .is_some_and(|e| {
                e.is_vanished() || matches!(e.kind(), influx_tsm_shard::ErrorKind::Changing { .. })
            })
            || cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    });
    if vanished && text.contains("shard ") {
        text.push_str(
            "\n  (files of the input were replaced or removed while they were read: a running \
             influxd does this as it snapshots and compacts. Run the export again: with \
             --resume it keeps what is finished; or export a copy or a file-system snapshot \
             of the directory.)",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the summary says, pinned: indicatif's formats are ours now, and a new
    /// version of it that changed them would change what users read.
    #[test]
    fn numbers() {
        let text = |d: &dyn std::fmt::Display| d.to_string();
        assert_eq!(text(&HumanCount(0)), "0");
        assert_eq!(text(&HumanCount(999)), "999");
        assert_eq!(text(&HumanCount(1000)), "1,000");
        assert_eq!(text(&HumanCount(1234567)), "1,234,567");
        assert_eq!(text(&HumanBytes(10)), "10 B");
        // Two decimals, as the progress bar's byte counts.
        assert_eq!(text(&HumanBytes(1536)), "1.50 KiB");
        assert_eq!(text(&HumanBytes(3 << 30)), "3.00 GiB");
        assert_eq!(human_rate(1_234_567.0), "1.2M");
        assert_eq!(human_rate(12.0), "12");
    }

    #[test]
    fn each_cause_once_and_a_hint_for_a_vanished_file() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = anyhow::Error::new(influx_tsm_shard::Error::from(io)).context("shard db/rp/3");
        let text = error_text(&err);
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
        assert!(text.starts_with("shard db/rp/3: No such file"), "{text}");
        assert!(
            text.contains("running influxd") && text.contains("--resume"),
            "{text}"
        );
        let damaged =
            anyhow::Error::new(influx_tsm_shard::Error::from(std::io::Error::other("disk")))
                .context("shard db/rp/3");
        assert!(!error_text(&damaged).contains("running influxd"));
    }
}
