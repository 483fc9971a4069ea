//! The library's merged view alone: opens the biggest shard of an InfluxDB directory and
//! reads every row of every measurement through `Shard::rows`, like the exporter does,
//! but without Arrow or Parquet. Prints values/s and peak memory.
//!
//! ```text
//! cargo run --release -p influx-tsm-benches --example merged_view -- DIR [BATCH_ROWS]
//! ```
//!
//! DIR holds `data/` (and optionally `wal/`). Peak `RssAnon` (heap, not the mapped TSM
//! files) is sampled every 2 ms; `VmHWM` (peak RSS with file pages) is printed too.
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use benchkit::mem::PeakSampler;
use influx_tsm_shard::Limits;
use influx_tsm_shard::rows::RowBatch;
use influx_tsm_shard::shard::{Shard, TimeRange};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: merged_view DIR [BATCH_ROWS]")?);
    let batch_rows: usize = args.next().map_or(Ok(64 * 1024), |s| s.parse())?;
    let wal = dir.join("wal");
    let layout =
        influx_tsm_shard::layout::scan(&dir.join("data"), wal.is_dir().then_some(wal.as_path()))?;
    let loc = layout
        .shards
        .iter()
        .max_by_key(|s| {
            s.tsm_files
                .iter()
                .filter_map(|f| std::fs::metadata(&f.path).ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .ok_or("no shard")?;
    let sampler = PeakSampler::start(Duration::from_millis(2));
    let start = Instant::now();
    let shard = Shard::open(loc, &Limits::default())?;
    let opened = start.elapsed();
    let (mut rows, mut values) = (0usize, 0usize);
    for (i, schema) in shard.measurements().iter().enumerate() {
        let mut batch = RowBatch::new(schema);
        let mut stream = shard.rows(i, TimeRange::ALL);
        while stream.next_batch(&mut batch, batch_rows, 64 << 20)? {
            rows += batch.len();
            values += batch.value_count();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let peaks = sampler.stop();
    println!(
        "shard {}/{}/{}: {} bytes TSM, {} keys\nopen {:.3} s, total {:.3} s: {rows} rows, {values} values, {:.1} M values/s\npeak RssAnon {:.1} MiB (sampled every 2 ms), VmHWM {:.1} MiB (includes mapped TSM pages)",
        loc.database,
        loc.retention_policy,
        loc.id,
        shard.file_bytes(),
        shard.key_count(),
        opened.as_secs_f64(),
        secs,
        values as f64 / secs / 1e6,
        peaks.rss_anon_kb as f64 / 1024.0,
        peaks.vm_hwm_kb as f64 / 1024.0,
    );
    Ok(())
}
