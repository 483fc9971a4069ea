//! A whole export from code: every database of a copied InfluxDB directory to Parquet,
//! with a progress line on stderr from an [`Observer`], in a rayon pool of our choosing.
//!
//! ```text
//! cargo run -p influx-tsm-export --example export_with_progress -- DIR OUT [THREADS]
//! ```
// A program (or test report) whose output is the point.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use influx_tsm_export::{Observer, Options, OutDir, Plan, Report, export};
use influx_tsm_shard::layout::ShardLocation;

/// Prints a line per finished shard.
struct Progress {
    bytes_total: u64,
    bytes_done: AtomicU64,
    values: AtomicU64,
}

impl Observer for Progress {
    fn values_written(&self, values: u64) {
        self.values.fetch_add(values, Ordering::Relaxed);
    }

    fn shard_finished(&self, shard: &ShardLocation, bytes: u64) {
        let done = self.bytes_done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        eprintln!(
            "shard {}/{}/{} done: {:.0} % of the input, {} values so far",
            shard.database,
            shard.retention_policy,
            shard.id,
            100.0 * done as f64 / self.bytes_total.max(1) as f64,
            self.values.load(Ordering::Relaxed)
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, out, threads) = match args.as_slice() {
        [dir, out] => (PathBuf::from(dir), PathBuf::from(out), 2),
        [dir, out, threads] => (PathBuf::from(dir), PathBuf::from(out), threads.parse()?),
        _ => return Err("usage: export_with_progress DIR OUT [THREADS]".into()),
    };
    let start = std::time::Instant::now();
    let options = Options::builder(dir.join("data"), &out)
        .wal_dir(dir.join("wal"))
        .build()?;
    let plan = Plan::new(&options)?;
    let out_dir = OutDir::prepare(&options)?;
    let progress = Progress {
        bytes_total: plan.bytes(),
        bytes_done: AtomicU64::new(0),
        values: AtomicU64::new(0),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let results = pool.install(|| export(&options, &plan, &out_dir, &progress))?;
    let report = Report::new(out, &plan, &results, start.elapsed().as_secs_f64());
    println!(
        "{} files, {} rows, {} values, {} bytes of Parquet",
        report.files, report.rows, report.values, report.bytes_out
    );
    Ok(())
}
