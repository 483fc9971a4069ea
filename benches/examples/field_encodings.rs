//! The field encodings the exporter picks for every measurement of a directory, and what
//! picking them costs: for each shard and measurement, the first batch (as the export
//! decodes it) goes through `writer_properties`, best of 5, timed by the process's CPU
//! time (from `/proc/self/task/*/schedstat`, so other processes disturb it less than
//! wall time). Prints one line per field column and the total.
//!
//! ```text
//! cargo run --release -p influx-tsm-benches --example field_encodings -- DIR
//! ```
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use influx_tsm_arrow::Columns;
use influx_tsm_export::Compression;
use influx_tsm_export::field_encoding::choose;
use influx_tsm_export::output::{FileSettings, writer_properties};
use influx_tsm_shard::Limits;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, TimeRange};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: DIR")?);
    let layout = influx_tsm_shard::layout::scan(&dir.join("data"), None)?;
    let codec = parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::try_new(1)?);
    let mut total_ns = 0u64;
    let mut files = 0;
    for loc in &layout.shards {
        let shard = Shard::open(loc, &Limits::default())?;
        for (i, schema) in shard.measurements().iter().enumerate() {
            let columns = Columns::new(schema);
            let mut rows = shard.rows(i, TimeRange::ALL);
            let mut batch = RowBatch::new(schema);
            if !rows.next_batch(&mut batch, 64 * 1024, 64 << 20)? || batch.is_empty() {
                continue;
            }
            let first = influx_tsm_arrow::record_batch(&columns, &batch)?;
            let mut best = u64::MAX;
            for _ in 0..5 {
                let start = cpu_ns();
                let settings = FileSettings {
                    compression: Compression::Zstd(1),
                    row_group_size: 1 << 20,
                    database: &loc.database,
                    retention_policy: &loc.retention_policy,
                    measurement: &schema.name,
                    shards: std::slice::from_ref(&loc.id),
                };
                writer_properties(&settings, &first)?;
                best = best.min(cpu_ns() - start);
            }
            total_ns += best;
            files += 1;
            let name = String::from_utf8_lossy(&schema.name);
            let batch_schema = first.schema();
            for (field, column) in batch_schema.fields().iter().zip(first.columns()) {
                if field
                    .metadata()
                    .get(influx_tsm_arrow::META_ROLE)
                    .map(String::as_str)
                    != Some(influx_tsm_arrow::Role::Field.as_str())
                {
                    continue;
                }
                let choice = choose(field, column, codec)?;
                println!(
                    "{}/{}/{} {name} {} {} {choice:?}",
                    loc.database,
                    loc.retention_policy,
                    loc.id,
                    field.name(),
                    field.data_type()
                );
            }
            println!(
                "{}/{}/{} {name}: {} rows in the first batch, {:.2} ms CPU to choose",
                loc.database,
                loc.retention_policy,
                loc.id,
                first.num_rows(),
                best as f64 / 1e6
            );
        }
    }
    println!(
        "{files} files, {:.1} ms CPU to choose their field encodings",
        total_ns as f64 / 1e6
    );
    Ok(())
}

/// Nanoseconds the threads of this process have run on a CPU (Linux; 0 elsewhere):
/// `writer_properties` tries the columns on rayon's workers.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
