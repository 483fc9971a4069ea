//! Counts the merged values of every measurement of a copied InfluxDB directory, with the
//! `influx-tsm-shard` crate alone: what `SELECT count(*) ... GROUP BY *` would add up to on the server.
//!
//! ```text
//! cargo run -p influx-tsm-shard --example count_values -- DIR
//! ```
//!
//! `DIR` holds `data/` and, optionally, `wal/`.
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use influx_tsm_shard::layout::scan;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, ShardOptions, TimeRange};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        return Err("usage: count_values DIR".into());
    };
    let wal = dir.join("wal");
    let layout = scan(&dir.join("data"), wal.is_dir().then_some(wal.as_path()))?;
    // (database, retention policy, measurement) -> (rows, values)
    let mut counts: BTreeMap<(String, String, String), (usize, usize)> = BTreeMap::new();
    for location in &layout.shards {
        let shard = Shard::open_with(location, &ShardOptions::default())?;
        for problem in shard.problems() {
            eprintln!("shard {}: {}", location.id, problem.error);
        }
        for (index, schema) in shard.measurements().iter().enumerate() {
            let mut rows = shard.rows(index, TimeRange::ALL);
            // One batch, reused: memory stays at one batch however big the shard is.
            let mut batch = RowBatch::new(schema);
            let key = (
                location.database.clone(),
                location.retention_policy.clone(),
                String::from_utf8_lossy(&schema.name).into_owned(),
            );
            let count = counts.entry(key).or_default();
            while rows.next_batch(&mut batch, 64 * 1024, 64 << 20)? {
                count.0 += batch.len();
                count.1 += batch.value_count();
            }
        }
    }
    for ((database, rp, measurement), (rows, values)) in &counts {
        println!("{database}/{rp}/{measurement}: {rows} points, {values} values");
    }
    Ok(())
}
